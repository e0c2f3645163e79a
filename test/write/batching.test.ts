// The write path's batching: creates share one counter update and one insert (ids still unique and growing, errors
// still per request), known authors are remembered but unknown ones never are, and pending marks are cleared in the
// background, coalesced, without ever holding up a publish. (KnownIds and MarkClearer alone: batching.unit.test.ts.)
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { ensureTopics } from '../../src/bus/kafka.js'
import type { Published } from '../../src/outbox/mark-clearer.js'
import type { EntityEvent } from '../../src/shared/event.js'
import { Publisher, type PublisherOptions } from '../../src/outbox/publisher.js'
import type { Post } from '../../src/shared/schemas.js'
import type { PostDoc } from '../../src/store/collections.js'
import { clearPublished } from '../../src/store/outbox.js'
import { build, createUser, dbOf, post, readEvents } from '../helper/index.js'

const silent = pino({ level: 'silent' })

t.test('200 concurrent creates: 200 distinct ids with no gap, each stored with its own request', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'prolific')
  const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => await post(app, '/posts', { user_id: uid, title: `p${i}`, content: 'c' })))
  t.ok(results.every((r) => r.statusCode === 201), 'all 201')
  const ids = results.map((r) => r.json<{ post_id: number }>().post_id)
  t.same([...ids].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1), 'ids 1..200, each once')
  t.ok(results.every((r, i) => r.json<{ title: string }>().title === `p${i}`), 'every response carries its own post')
  const titles = new Map(ids.map((id, i) => [id, `p${i}`]))
  const stored = await dbOf(app).collection<PostDoc>('posts').find().toArray()
  t.equal(stored.length, 200, '200 documents')
  t.ok(stored.every((d) => d.title === titles.get(d._id)), 'each id stored with its own request')
  const counter = await dbOf(app).collection<{ _id: string, seq: number }>('counters').findOne({ _id: 'posts' })
  // Blocks of ids (src/store/id-blocks.ts): the counter may be ahead by an unused tail, which the next create takes.
  t.ok(counter !== null && counter.seq >= 200 && counter.seq < 200 + 1024, `the counter covers the ids handed out (${counter?.seq ?? 'none'})`)
  t.equal((await post(app, '/posts', { user_id: uid, title: 'next', content: 'c' })).json<{ post_id: number }>().post_id, 201, 'the next create goes on from there')
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => g.filter((r) => r.event.type === 'post').length >= 201)
  t.equal(new Set(got.filter((r) => r.event.type === 'post').map((r) => r.event.id)).size, 201, 'one create event per post')
  await app.publisher.cleared()
  t.equal(app.store.locks.size, 0, 'no document lock is left behind')
})

t.test('reserveIds: concurrent reservations get disjoint consecutive blocks', async (t) => {
  const app = await build(t, { role: 'write' })
  const sizes = [5, 1, 17, 3, 40, 2]
  const firsts = await Promise.all(sizes.map(async (n) => await app.runWrite(async (d) => await app.store.creates.reserveIds(d, 'users', n))))
  const ids = firsts.flatMap((first, i) => Array.from({ length: sizes[i]! }, (_, j) => first + j)).sort((a, b) => a - b)
  t.same(ids, Array.from({ length: 68 }, (_, i) => i + 1), 'every id once, no gap')
})

t.test('a batch with taken names: each request gets its own answer, and the others are created', async (t) => {
  const app = await build(t, { role: 'write' })
  await createUser(app, 'taken')
  const names = ['a', 'taken', 'b', 'taken', 'c', 'b']
  const results = await Promise.all(names.map(async (username) => await post(app, '/users', { username })))
  const codes = results.map((r) => r.statusCode)
  t.same(codes.filter((c, i) => names[i] === 'taken'), [409, 409], 'a name taken before is a 409')
  t.same([codes[0], codes[4]], [201, 201], 'free names are created')
  t.same([codes[2], codes[5]].sort(), [201, 409], 'one of two requests racing for a name wins')
  t.same((await dbOf(app).collection<{ username: string }>('users').find().toArray()).map((u) => u.username).sort(), ['a', 'b', 'c', 'taken'])
})

t.test('an unknown author is never remembered: it can post as soon as it exists', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: first } = await createUser(app, 'first')
  const next = first + 1
  const early = await Promise.all(Array.from({ length: 5 }, async () => await post(app, '/posts', { user_id: next, title: 't', content: 'c' })))
  t.same(early.map((r) => r.statusCode), [422, 422, 422, 422, 422], 'unknown, 422')
  // Created behind the write role's back (another replica), so only MongoDB can say it exists now.
  await dbOf(app).collection<{ _id: number }>('users').insertOne({ _id: next, username: 'late', created_at: new Date(), version: 1 } as never)
  t.equal((await post(app, '/posts', { user_id: next, title: 't', content: 'c' })).statusCode, 201, 'known the moment it exists')
  t.equal((await post(app, '/posts', { user_id: first, title: 't', content: 'c' })).statusCode, 201)
})

t.test('clearPublished: many marks in several round trips, each only at its published version', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const db = dbOf(app)
  const posts = db.collection<PostDoc>('posts')
  const stale = new Date(Date.now() - 60_000)
  await posts.insertMany(Array.from({ length: 30 }, (_, i) => ({
    _id: 1000 + i, user_id: 1, title: 't', content: 'c', like_count: 0, dislike_count: 0, created_at: stale, version: 1 + (i % 3), pending: true, pending_since: stale
  })))
  // Every version published for the even ids; only an older one for the odd ids.
  const events: Published[] = Array.from({ length: 30 }, (_, i) => ({ type: 'post', id: 1000 + i, version: i % 2 === 0 ? 1 + (i % 3) : i % 3 }))
  t.equal(await clearPublished(app.store, db, events), 15)
  const left = (await posts.find({ pending_since: { $exists: true } }).toArray()).map((d) => d._id).sort((a, b) => a - b)
  t.same(left, Array.from({ length: 15 }, (_, i) => 1001 + 2 * i), 'only the marks of published versions are gone')
  t.equal(app.store.locks.size, 0)
})

const event = (id: number, version = 1): EntityEvent => ({ type: 'post', id, version, data: { post_id: id } as Post, occurred_at: new Date().toISOString() })

/**
 * A write-role app (closed and its namespace dropped in teardown) and a Publisher of its own on the app's topic,
 * closed before the app; `options` may replace any of the publisher's options, given the app.
 */
async function ownPublisher (t: Test, options: (app: FastifyInstance) => Partial<PublisherOptions> = () => ({})): Promise<Publisher> {
  const app = await build(t, { role: 'write' })
  const config = app.config
  const publisher = new Publisher({
    kafka: app.kafka,
    metrics: app.metrics,
    topic: config.eventsTopic,
    log: silent,
    prepare: async () => { await ensureTopics(app.kafka, [config.eventsTopic], 1, app.log) },
    onPublished: async () => {},
    onReleased: async () => {},
    ...options(app)
  })
  t.teardown(async () => { await publisher.close() })
  return publisher
}

t.test('a slow clear never holds up the next publish', async (t) => {
  let clears = 0
  let release!: () => void
  const stuck = new Promise<void>((resolve) => { release = resolve })
  const publisher = await ownPublisher(t, () => ({ onPublished: async () => { clears++; await stuck } }))
  // Registered last, so it runs first: the stuck clear must end before the publisher can close.
  t.teardown(() => { release() })
  t.equal(await publisher.settleInline(publisher.publish(event(1), 'inline')), true, 'first published')
  t.equal(await publisher.settleInline(publisher.publish(event(2), 'inline')), true, 'the next one too, while the first clear hangs')
  t.equal(clears, 1, 'one clear in flight, the second mark waits for it')
  t.ok(publisher.awaitsClear('post', 2, 1))
  release()
  await publisher.cleared()
  t.equal(clears, 2)
  t.notOk(publisher.awaitsClear('post', 2, 1))
})

t.test('events queued in one synchronous run leave in one produce request', async (t) => {
  // The real client and broker; only the producer's Produce requests are counted, through kafkajs's instrumentation.
  let produces = 0
  const publisher = await ownPublisher(t, (app) => {
    const counting = Object.create(app.kafka) as typeof app.kafka
    counting.producer = (options) => {
      const producer = app.kafka.producer(options)
      producer.on(producer.events.REQUEST, ({ payload }) => { if (payload.apiName === 'Produce') produces++ })
      return producer
    }
    return { kafka: counting }
  })
  // The same keys once first, so every partition they go to has its leader known to the producer and a retried first
  // request cannot count twice. (The write role's own publisher may have made the topic with several partitions.)
  const warm = await Promise.all(Array.from({ length: 20 }, (_, i) => publisher.publish(event(i + 1), 'inline')))
  t.ok(warm.every(Boolean), 'the topic takes events')
  // Idle again (its drain loop has ended), so the burst below starts a drain of its own.
  await new Promise((resolve) => setImmediate(resolve))
  produces = 0
  // Newer versions: a publisher does not send again a version Kafka already acknowledged from it.
  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => publisher.publish(event(i + 1, 2), 'inline')))
  t.ok(outcomes.every(Boolean), 'all 20 acknowledged')
  t.equal(produces, 1, 'in one produce request')
})
