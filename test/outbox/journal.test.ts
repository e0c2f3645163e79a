// The create journal (src/store/journal.ts): creates mark nothing in their documents; each id block's entry is written
// before any of its ids is inserted and deleted once the block is closed and its creates are on Kafka; an entry left behind (a replica stopped between its insert
// and its publish) is published again by the relay, which gives up only on documents that never landed.
// (JournalReleaser alone: journal.unit.test.ts.)
import t from 'tap'
import pino from 'pino'
import { ObjectId } from 'mongodb'
import { Relay } from '../../src/outbox/relay.js'
import { isDuplicateKey, type PostDoc, type UserDoc } from '../../src/store/collections.js'
import { countJournaled, journal } from '../../src/store/journal.js'
import { build, createUser, dbOf, metricValue, post, readEvents, unpublished, versionsByKey, waitFor } from '../helper/index.js'

const silent = pino({ level: 'silent' })

function postDoc (id: number, extra: Partial<PostDoc> = {}): PostDoc {
  return { _id: id, user_id: 1, title: `t${id}`, content: 'c', like_count: 0, dislike_count: 0, created_at: new Date(), version: 1, ...extra }
}

t.test('creates mark nothing in their documents, and their journal entries go once their block is closed and on Kafka', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const { user_id: uid } = await createUser(app, 'journaled')
  const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => await post(app, '/posts', { user_id: uid, title: `j${i}`, content: 'c' })))
  t.ok(results.every((r) => r.statusCode === 201), 'all 201')
  const docs = await dbOf(app).collection<PostDoc>('posts').find().toArray()
  t.equal(docs.length, 50)
  t.ok(docs.every((d) => d.pending === undefined && d.pending_since === undefined), 'no create carries a pending mark')
  // A block closes when used up or BLOCK_TTL_MS after it was reserved; its entry goes once that and the last
  // acknowledgement have both happened.
  await waitFor('every entry to be deleted', async () => await journal(dbOf(app)).countDocuments() === 0, 5000)
  t.ok(await journal(dbOf(app)).countDocuments({}, { limit: 1 }) === 0, 'every entry was deleted once its events were acknowledged')
})

t.test('Kafka unreachable: the entries of the id blocks name every created id exactly once, and nothing else', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000', KAFKA_BROKERS: '127.0.0.1:1' })
  const db = dbOf(app)
  const { user_id: uid } = await createUser(app, 'blocks')
  const ids = [uid]
  // Waves of concurrent creates: batches of different sizes, blocks that are used up, outgrown and left to expire.
  for (let wave = 0; wave < 6; wave++) {
    const answers = await Promise.all(Array.from({ length: 1 + wave * 3 }, async (_, i) => await post(app, '/posts', { user_id: uid, title: `w${wave}.${i}`, content: 'c' })))
    t.ok(answers.every((r) => r.statusCode === 201), `wave ${wave}: all 201 with Kafka unreachable`)
    ids.push(...answers.map((r) => r.json<{ post_id: number }>().post_id))
    if (wave % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 150)) // past BLOCK_TTL_MS: the block expires
  }
  // Every block closes BLOCK_TTL_MS after it was reserved at the latest, and its entry is then cut to the ids used.
  const named = async (): Promise<string[]> => (await journal(db).find().toArray()).flatMap((e) => Array.from({ length: e.count }, (_, i) => `${e.collection}:${e.first + i}`)).sort()
  const expected = [`users:${uid}`, ...ids.slice(1).map((id) => `posts:${id}`)].sort()
  await waitFor('every block to close and be cut to what it handed out', async () => JSON.stringify(await named()) === JSON.stringify(expected), 5000)
  t.same(await named(), expected, 'each created id is in exactly one entry; no unused id is left in one')
  t.equal(await unpublished(db), ids.length, 'the outbox counts exactly the unpublished creates')
})

t.test('a batch inserted but never published (its replica stopped) is published by the relay, then its entry goes', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const db = dbOf(app)
  // As a replica that stopped right after its insert would leave it: the documents and their entry, no event.
  const inserted = await Promise.all([1, 2, 3].map(async (i) => await app.runWrite(async (wdb) =>
    (await app.store.creates.insert<PostDoc>(wdb, 'posts', (id) => postDoc(id, { title: `orphan ${i}` }))).doc)))
  t.equal(await countJournaled(db), 3, 'the journal names the three creates')
  t.equal(await unpublished(db), 3)
  const relay = new Relay({ runWrite: app.runWrite, metrics: app.metrics, publisher: app.publisher, log: silent, intervalMs: 100, graceMs: 0, onFatal: () => {} })
  const relayedBefore = await metricValue('pb_events_published_total', { path: 'relay' }, app)
  t.same(await relay.pass(), { published: 3, more: false }, 'the relay published the three documents')
  t.equal(await metricValue('pb_outbox_pending', {}, app), 3, 'the gauge counted the journaled creates')
  t.equal(await metricValue('pb_events_published_total', { path: 'relay' }, app), relayedBefore + 3)
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => inserted.every((d) => versionsByKey(g).has(`post:${d._id}`)))
  for (const d of inserted) t.same(versionsByKey(got).get(`post:${d._id}`), [1], `post ${d._id} reached Kafka once, at version 1`)
  await waitFor('the entry to be deleted', async () => await countJournaled(db) === 0, 10_000)
  t.same(await relay.pass(), { published: 0, more: false }, 'nothing is left to publish')
})

t.test('an entry naming documents that never landed: what landed goes at once, the entry waits until abandonMs', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const db = dbOf(app)
  await db.collection<PostDoc>('posts').insertOne(postDoc(900))
  await journal(db).insertOne({ _id: new ObjectId(), collection: 'posts', first: 900, count: 3, since: new Date(Date.now() - 1000) })
  // A page of one entry: a full page that could not be settled must not make the relay loop on it at once.
  const patient = new Relay({ runWrite: app.runWrite, metrics: app.metrics, publisher: app.publisher, log: silent, intervalMs: 100, graceMs: 0, abandonMs: 60_000, journalBatchSize: 1, onFatal: () => {} })
  t.same(await patient.pass(), { published: 1, more: false }, 'a young entry with missing documents: the landed one is published at once')
  t.same(await patient.pass(), { published: 0, more: false }, 'and the entry is not read again before abandonMs')
  await app.publisher.cleared()
  t.equal(await countJournaled(db), 3, 'it stays for the documents that may still land')
  const done = new Relay({ runWrite: app.runWrite, metrics: app.metrics, publisher: app.publisher, log: silent, intervalMs: 100, graceMs: 0, abandonMs: 0, journalBatchSize: 1, onFatal: () => {} })
  t.same(await done.pass(), { published: 1, more: true }, 'an abandoned one publishes what landed (and a full page says more may wait)')
  await waitFor('the entry to be deleted', async () => await countJournaled(db) === 0, 10_000)
  const sent = await metricValue('pb_events_published_total', { path: 'relay' }, app)
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => g.length >= sent)
  // Given up on, the entry's landed document is published again, but this replica already had version 1 acknowledged
  // (src/outbox/publisher.ts), so the topic holds it once.
  t.same(versionsByKey(got).get('post:900'), [1], 'published when first seen, not sent twice')

  // Nothing that landed at all: deleted without a publish.
  await journal(db).insertOne({ _id: new ObjectId(), collection: 'users', first: 500, count: 2, since: new Date(Date.now() - 1000) })
  t.same(await done.pass(), { published: 0, more: true })
  await waitFor('the empty entry to be deleted', async () => await countJournaled(db) === 0, 10_000)
  t.same(await done.pass(), { published: 0, more: false }, 'an entry whose documents never landed is deleted')
})

t.test('a journaled document that changed since (and carries a mark) is left to the marks, and its entry goes', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const db = dbOf(app)
  // Younger than the app's own relay's 2 s grace (its first pass, at start, must leave these to the relay under test).
  const recent = new Date(Date.now() - 500)
  await db.collection<PostDoc>('posts').insertMany([postDoc(700), postDoc(701, { version: 2, like_count: 1, pending: true, pending_since: recent })])
  await journal(db).insertOne({ _id: new ObjectId(), collection: 'posts', first: 700, count: 2, since: recent })
  const relay = new Relay({ runWrite: app.runWrite, metrics: app.metrics, publisher: app.publisher, log: silent, intervalMs: 100, graceMs: 0, onFatal: () => {} })
  t.same(await relay.pass(), { published: 2, more: false }, 'the marked document once (its current version), the other through the journal')
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => versionsByKey(g).has('post:700') && versionsByKey(g).has('post:701'))
  t.same(versionsByKey(got).get('post:701'), [2], 'post 701 went out once, at its current version')
  t.same(versionsByKey(got).get('post:700'), [1])
  await waitFor('the mark and the entry to go', async () => await unpublished(db) === 0, 10_000)
  t.pass('the mark was cleared and the entry deleted')
})

t.test('a block where nothing landed deletes its own entry once it closes', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  await createUser(app, 'taken')
  await app.publisher.cleared()
  // Past the route's own check for a taken name, as a request racing the name's first owner would be.
  const attempts = await Promise.allSettled([1, 2, 3].map(async () => await app.runWrite(async (db) =>
    await app.store.creates.insert<UserDoc>(db, 'users', (id) => ({ _id: id, username: 'taken', created_at: new Date(), version: 1 })))))
  t.same(attempts.map((a) => a.status === 'rejected' && isDuplicateKey(a.reason)), [true, true, true], 'each insert hit the unique name')
  await waitFor('the block to close and its entry to go', async () => await countJournaled(dbOf(app)) === 0, 5000)
  t.equal(await countJournaled(dbOf(app)), 0, 'no entry is left for the relay to look at')
})

t.test('countJournaled: exact for a short journal, extrapolated from the first entries for a long one', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const db = dbOf(app)
  const recent = new Date()
  await journal(db).insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: new ObjectId(), collection: 'posts' as const, first: 10_000 + 3 * i, count: 3, since: recent })))
  t.equal(await countJournaled(db), 15, 'every entry summed')
  t.equal(await countJournaled(db, 2), 15, 'two entries read, their mean size times the estimated entry count')
})

t.test('an incomplete entry is read again once abandonMs has passed, and then released', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const db = dbOf(app)
  await db.collection<PostDoc>('posts').insertOne(postDoc(800))
  await journal(db).insertOne({ _id: new ObjectId(), collection: 'posts', first: 800, count: 2, since: new Date(Date.now() - 1000) })
  const relay = new Relay({ runWrite: app.runWrite, metrics: app.metrics, publisher: app.publisher, log: silent, intervalMs: 100, graceMs: 0, abandonMs: 1500, onFatal: () => {} })
  t.same(await relay.pass(), { published: 1, more: false }, 'what landed, at once')
  t.same(await relay.pass(), { published: 0, more: false }, 'not read again yet')
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.same(await relay.pass(), { published: 1, more: false }, 'past abandonMs: read again, published, released')
  await waitFor('the entry to be deleted', async () => await countJournaled(db) === 0, 10_000)
  t.pass('released')
})

t.test('incomplete entries never hold back a newer one: the relay pages past them', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const db = dbOf(app)
  // 25 batches none of whose documents landed (a MongoDB blip, say), older than one whose document did: more than a
  // page of entries the relay must leave alone until abandonMs.
  const old = Date.now() - 10_000
  await journal(db).insertMany(Array.from({ length: 25 }, (_, i) => ({ _id: new ObjectId(), collection: 'posts' as const, first: 5000 + i, count: 1, since: new Date(old + i) })))
  await db.collection<PostDoc>('posts').insertOne(postDoc(960))
  await journal(db).insertOne({ _id: new ObjectId(), collection: 'posts', first: 960, count: 1, since: new Date(old + 1000) })
  const relay = new Relay({ runWrite: app.runWrite, metrics: app.metrics, publisher: app.publisher, log: silent, intervalMs: 100, graceMs: 0, abandonMs: 60_000, onFatal: () => {} })
  let published = 0
  for (let pass = 0; pass < 3; pass++) published += (await relay.pass()).published
  t.equal(published, 1, 'the acknowledged create behind them was published within two passes')
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => versionsByKey(g).has('post:960'))
  t.same(versionsByKey(got).get('post:960'), [1], 'post 960 reached Kafka')
  await waitFor('its entry to be deleted', async () => await journal(db).countDocuments({ first: 960 }) === 0, 10_000)
  t.equal(await journal(db).countDocuments(), 25, 'the incomplete entries wait for abandonMs')
})
