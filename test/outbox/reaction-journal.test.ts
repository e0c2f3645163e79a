// Reactions through the journal (src/store/reaction-batcher.ts): concurrent likes and dislikes share one entry per
// batch and one update per post, mark nothing in their documents, and are each answered with the post as their own
// reaction left it; a batch whose replica stopped before publishing is published by the relay, which knows a
// reaction entry's missing post never existed.
import t from 'tap'
import pino from 'pino'
import { Relay } from '../../src/outbox/relay.js'
import type { PostDoc } from '../../src/store/collections.js'
import { countJournaled, journal } from '../../src/store/journal.js'
import { build, createPost, createUser, dbOf, latestByKey, metricValue, post, readEvents, unpublished, versionsByKey, waitFor } from '../helper/index.js'

const silent = pino({ level: 'silent' })

t.test('concurrent reactions: one entry per batch, no marks, each answered as its own reaction left the post', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const { user_id: uid } = await createUser(app, 'reacting')
  const ids = [(await createPost(app, uid)).post_id, (await createPost(app, uid)).post_id, (await createPost(app, uid)).post_id]
  await app.publisher.cleared()
  const answers = await Promise.all(Array.from({ length: 90 }, async (_, i) =>
    await post(app, `/posts/${ids[i % 3]!}/${i % 5 === 0 ? 'dislike' : 'like'}`)))
  t.ok(answers.every((r) => r.statusCode === 200), 'all 200')
  for (const id of ids) {
    const mine = answers.map((r) => r.json<{ post_id: number, like_count: number, dislike_count: number }>()).filter((p) => p.post_id === id)
    t.same(mine.map((p) => p.like_count + p.dislike_count).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1),
      `post ${id}: every answer saw a count of its own`)
  }
  const docs = await dbOf(app).collection<PostDoc>('posts').find({ _id: { $in: ids } }).toArray()
  t.ok(docs.every((d) => d.pending === undefined && d.pending_since === undefined), 'no reaction left a pending mark')
  t.same(docs.map((d) => [d.like_count + d.dislike_count, d.version]), [[30, 31], [30, 31], [30, 31]], 'every reaction stored, one version each')
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => ids.every((id) => latestByKey(g).get(`post:${id}`)?.version === 31))
  for (const id of ids) t.ok((versionsByKey(got).get(`post:${id}`)?.length ?? 0) < 31, `post ${id}: fewer events than reactions (batched)`)
  // The create blocks' entries go too, once their blocks close (BLOCK_TTL_MS).
  await waitFor('every entry to be deleted', async () => await countJournaled(dbOf(app)) === 0, 5000)
  t.equal(await countJournaled(dbOf(app)), 0, 'every entry was deleted once its events were acknowledged')
})

t.test('a reaction batch never published (its replica stopped) is published by the relay; an unknown post in it is no wait', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const db = dbOf(app)
  const { user_id: uid } = await createUser(app, 'orphaned')
  const ids = [(await createPost(app, uid)).post_id, (await createPost(app, uid)).post_id]
  await waitFor('the creates\' entries to go (their blocks closed)', async () => await journal(db).countDocuments() === 0, 5000)
  // As a replica that stopped right after its updates would leave them: changed posts and their entry, no event.
  const changed = await app.runWrite(async (wdb) => await Promise.all([...ids, 999_999].map(async (id) => await app.store.reactions.react(wdb, id, 'like'))))
  t.same(changed.map((c) => c?.latest.like_count ?? null), [1, 1, null], 'two posts liked, the unknown one answered null (a 404)')
  // The first reaction went alone (nothing was in flight); the two that queued behind it shared the next batch.
  const entries = await journal(db).find().sort({ since: 1 }).toArray()
  t.same(entries.map((e) => e.changed), [[ids[0]], [ids[1], 999_999]], 'one entry per batch, naming the posts it changes')
  const relay = new Relay({ runWrite: app.runWrite, metrics: app.metrics, publisher: app.publisher, log: silent, intervalMs: 100, graceMs: 0, abandonMs: 60_000, onFatal: () => {} })
  t.same(await relay.pass(), { published: 2, more: false }, 'the relay published both posts at their new version')
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => ids.every((id) => latestByKey(g).get(`post:${id}`)?.version === 2))
  for (const id of ids) t.match(latestByKey(got).get(`post:${id}`), { version: 2, data: { like_count: 1 } })
  await waitFor('the entry to be deleted (the unknown post is not waited for)', async () => await countJournaled(db) === 0, 10_000)
  t.pass('released')
})

t.test('a like of an unknown post: 404, and its batch leaves no entry behind', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const res = await post(app, '/posts/424242/like')
  t.equal(res.statusCode, 404)
  t.equal(await countJournaled(dbOf(app)), 0, 'the entry went with the batch')
})

t.test('a post liked nonstop leaves the outbox once the likes stop (it never did with pending marks)', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '200' })
  const { user_id: uid } = await createUser(app, 'hot')
  const { post_id: pid } = await createPost(app, uid)
  const until = Date.now() + 2000
  let likes = 0
  const refused: number[] = []
  await Promise.all(Array.from({ length: 20 }, async () => {
    while (Date.now() < until) {
      const status = (await post(app, `/posts/${pid}/like`)).statusCode
      if (status === 200) likes++
      else refused.push(status)
    }
  }))
  t.same(refused, [], 'every like answered 200')
  await waitFor('nothing left unpublished', async () => await unpublished(dbOf(app)) === 0, 10_000)
  await waitFor('the outbox gauge back at 0', async () => await metricValue('pb_outbox_pending', {}, app) === 0, 10_000)
  t.pass(`after ${likes} likes in 2 s, the outbox is empty and its gauge reads 0`)
  t.match(await dbOf(app).collection<PostDoc>('posts').findOne({ _id: pid }), { like_count: likes, version: likes + 1 })
})
