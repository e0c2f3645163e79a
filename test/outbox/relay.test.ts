// Nothing accepted is lost: with Kafka stopped, writes still answer 201 and stay pending in their documents; once
// Kafka is back the relay publishes them. Several relays at once may duplicate an event but never leave a gap, and a
// mark is only cleared for the version that was published. Redis or MongoDB down: what a write answers then. Stops
// the stack's Kafka, Redis and MongoDB on purpose (run it against a private stack: see test/helper/app.ts).
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { MongoBulkWriteError, MongoNetworkError, MongoServerError } from 'mongodb'
import { buildApp } from '../../src/app.js'
import { entityKey } from '../../src/cache/keys.js'
import { Relay } from '../../src/outbox/relay.js'
import { toPost, type PostDoc } from '../../src/store/collections.js'
import { clearPublished } from '../../src/store/outbox.js'
import { build, createPost, createUser, dbOf, dropNamespace, latestByKey, metricValue, post, readEvents, stack, testConfig, unpublished, versionsByKey, waitFor } from '../helper/index.js'

const FAST_RELAY = { RELAY_INTERVAL_MS: '200' }

const postsOf = (app: FastifyInstance) => dbOf(app).collection<PostDoc>('posts')

async function pendingCount (app: FastifyInstance): Promise<number> {
  return await unpublished(dbOf(app))
}

async function timedMs<T> (fn: () => Promise<T>): Promise<[T, number]> {
  const start = Date.now()
  const value = await fn()
  return [value, Date.now() - start]
}

t.test('Kafka stopped: 20 writes accepted and kept pending; Kafka back: every event arrives, in order per key', async (t) => {
  const config = testConfig({ role: 'write' }, FAST_RELAY)
  t.teardown(async () => { await dropNamespace(config) })
  // Runs before dropNamespace (tap runs teardowns last-in first-out), and even if an assertion below failed.
  t.teardown(async () => { await stack('up', 'kafka') })
  const app = await buildApp(config, { logger: false })
  t.teardown(async () => { await app.close() })
  await app.ready()

  const { user_id: uid } = await createUser(app, 'writer')
  const before = await createPost(app, uid, 'before the outage')
  await waitFor('the first writes to publish', async () => await pendingCount(app) === 0, 10_000)
  const errorsBefore = await metricValue('pb_producer_errors_total', {}, app)
  const relayedBefore = await metricValue('pb_events_published_total', { path: 'relay' }, app)

  await stack('down', 'kafka')

  const created: Array<{ post_id: number }> = []
  let slowest = 0
  for (let i = 0; i < 20; i++) {
    const [res, ms] = await timedMs(async () => await post(app, '/posts', { user_id: uid, title: `during ${i}`, content: 'kafka is down' }))
    t.equal(res.statusCode, 201, `write ${i} accepted`)
    created.push(res.json())
    slowest = Math.max(slowest, ms)
  }
  for (let i = 0; i < 5; i++) t.equal((await post(app, `/posts/${before.post_id}/like`)).statusCode, 200, `like ${i} accepted`)
  // Bounded by the inline wait (1 s) plus MongoDB: a Kafka outage never holds a write for long.
  t.ok(slowest < 3000, `no write waited out the outage (slowest ${slowest} ms)`)
  // The journal names an open id block's unused ids too, until the block closes (BLOCK_TTL_MS) and is cut to those used.
  await waitFor('the last id block to close', async () => await pendingCount(app) === 25, 3000)
  t.equal(await pendingCount(app), 25, 'the 20 new posts and the 5 likes of one post (each journaled) are unpublished in MongoDB')
  t.equal(app.publisher.healthy, false, 'the publisher knows Kafka is down')
  // The send that was in flight when Kafka went away fails once kafkajs gives up on it.
  await waitFor('the failed send', async () => await metricValue('pb_producer_errors_total', {}, app) > errorsBefore, 30_000)
  t.pass('failed publishes are counted')

  // A replica that starts during the outage takes writes too, and one stopped with pending documents loses nothing.
  const [other, bootMs] = await timedMs(async () => {
    const a = await buildApp(config, { logger: false })
    await a.ready()
    return a
  })
  t.ok(bootMs < 10_000, `a write replica boots without Kafka (${bootMs} ms)`)
  const orphan = await post(other, '/posts', { user_id: uid, title: 'from a replica that stops', content: 'c' })
  t.equal(orphan.statusCode, 201)
  created.push(orphan.json())
  const [, closeMs] = await timedMs(async () => { await other.close() })
  t.ok(closeMs < 15_000, `and closes within the shutdown grace while Kafka is down (${closeMs} ms)`)

  await stack('up', 'kafka')

  const expected = new Map(created.map((p) => [`post:${p.post_id}`, 1]))
  expected.set(`post:${before.post_id}`, 6)
  const got = await readEvents(app.kafka, config.eventsTopic, (g) => {
    const latest = latestByKey(g)
    return [...expected].every(([key, version]) => latest.get(key)?.version === version)
  }, 90_000)
  const latest = latestByKey(got)
  for (const p of created) {
    t.same(latest.get(`post:${p.post_id}`)?.data, p, `post ${p.post_id}: its event arrived with the post as answered`)
  }
  t.match(latest.get(`post:${before.post_id}`), { version: 6, data: { like_count: 5 } },
    'the post liked five times during the outage arrives at its latest version, carrying all five likes')
  for (const [key, versions] of versionsByKey(got)) {
    t.ok(versions.every((v, i) => i === 0 || v >= versions[i - 1]!), `${key}: versions arrive in order (${versions.join(',')})`)
  }
  await waitFor('every mark to clear', async () => await pendingCount(app) === 0, 20_000)
  t.pass('nothing is left pending')
  t.ok(await metricValue('pb_events_published_total', { path: 'relay' }, app) >= relayedBefore + 22, 'the relay published them')
  t.equal(app.publisher.healthy, true, 'inline publishing resumed')
  const next = await createPost(app, uid, 'after the outage')
  t.equal((await postsOf(app).findOne({ _id: next.post_id }))?.version, 1)
  await waitFor('the next write to publish inline', async () => await pendingCount(app) === 0, 10_000)
  t.pass('the next write is published inline again')
})

t.test('several relays at once: every latest version published, no mark lost', async (t) => {
  // Two write replicas (two apps: they share only the servers), each with its relay.
  const config = testConfig({ role: 'write' }, FAST_RELAY)
  t.teardown(async () => { await dropNamespace(config) })
  const [a, b] = [await build(t, config), await build(t, config)]
  const { user_id: uid } = await createUser(a, 'many')
  const ids: number[] = []
  for (let i = 0; i < 10; i++) ids.push((await createPost(i % 2 === 0 ? a : b, uid, `p${i}`)).post_id)
  await waitFor('the creates to publish', async () => await pendingCount(a) === 0, 10_000)

  // As if every replica had stopped between its writes and their publishes: all of it is overdue at once, and both
  // relays go for it while new likes keep changing half of the same documents through both replicas. The other half
  // only the relays can publish.
  await postsOf(a).updateMany({}, { $set: { pending: true, pending_since: new Date(Date.now() - 60_000) } })
  const liked = ids.slice(0, 5)
  const likes = await Promise.all(Array.from({ length: 40 }, async (_, i) => await post(i % 2 === 0 ? a : b, `/posts/${liked[i % liked.length]}/like`)))
  t.ok(likes.every((r) => r.statusCode === 200))
  await waitFor('the relays to finish', async () => await pendingCount(a) === 0, 30_000)

  const docs = await postsOf(a).find({}).toArray()
  const got = await readEvents(a.kafka, config.eventsTopic, (g) => {
    const latest = latestByKey(g)
    return docs.every((d) => latest.get(`post:${d._id}`)?.version === d.version)
  }, 30_000)
  const latest = latestByKey(got)
  for (const d of docs) {
    t.same(latest.get(`post:${d._id}`)?.data, toPost(d), `post ${d._id}: the latest event is the stored state (version ${d.version})`)
  }
  // On the local FerretDB this holds across replicas because a lease in Redis orders each document's updates (likes
  // and mark clears alike): without it, 10-20% of these likes were lost.
  t.equal(docs.reduce((sum, d) => sum + d.like_count, 0), 40, 'every like is stored')
  // Only a relay can have cleared the untouched posts' marks. It sends a version again unless its own replica already
  // had Kafka acknowledge it, and which of the two relays takes which post is up to them, so how many events went
  // out through a relay is not fixed; that the latest event of every post is its stored state is checked above.
  const untouched = docs.filter((d) => !liked.includes(d._id))
  t.same(untouched.filter((d) => (d as { pending?: boolean }).pending === true).map((d) => d._id), [], 'the untouched posts\' marks were cleared by a relay')
})

t.test('a mark is cleared only for the version that was published', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'marks')
  const { post_id: pid } = await createPost(app, uid)
  await waitFor('the create to publish', async () => await pendingCount(app) === 0, 10_000)
  const stale = new Date(Date.now() - 60_000)
  await postsOf(app).updateOne({ _id: pid }, { $set: { version: 7, pending: true, pending_since: stale } })
  const db = dbOf(app)
  t.equal(await clearPublished(app.store, db, [{ type: 'post', id: pid, version: 6 }]), 0, 'publishing version 6 does not clear version 7')
  t.same((await postsOf(app).findOne({ _id: pid }))?.pending_since, stale, 'the mark stays')
  t.equal(await clearPublished(app.store, db, [{ type: 'post', id: pid, version: 6 }, { type: 'user', id: uid, version: 1 }, { type: 'post', id: pid, version: 7 }]), 1,
    'publishing version 7 does, in a batch that also holds an older version and an already clear user')
  t.equal((await postsOf(app).findOne({ _id: pid }))?.pending_since, undefined)
})

t.test('the relay works in batches, oldest first, keeps the gauge, and only a bug stops it', async (t) => {
  // The app's own relay makes its first pass at start and then sleeps; the one under test is driven by hand.
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const { user_id: uid } = await createUser(app, 'batches')
  const ids: number[] = []
  for (let i = 0; i < 5; i++) ids.push((await createPost(app, uid, `b${i}`)).post_id)
  await waitFor('the creates to publish', async () => await pendingCount(app) === 0, 10_000)
  // Overdue, newest id oldest mark: the relay must go by the mark, not the id.
  for (const [i, id] of ids.entries()) await postsOf(app).updateOne({ _id: id }, { $set: { pending: true, pending_since: new Date(Date.now() - 60_000 - i * 1000) } })

  const relay = new Relay({ runWrite: app.runWrite, metrics: app.metrics, publisher: app.publisher, log: app.log, intervalMs: 100, graceMs: 2000, batchSize: 2, onFatal: () => {} })
  t.same(await relay.pass(), { published: 2, more: true }, 'a full batch says more is waiting')
  t.equal(await metricValue('pb_outbox_pending', {}, app), 5, 'the gauge counts every pending document, not just one batch')
  await waitFor('the first batch to clear', async () => await pendingCount(app) === 3, 10_000)
  const left = (await postsOf(app).find({ pending_since: { $exists: true } }).toArray()).map((d) => d._id).sort((a, b) => a - b)
  t.same(left, ids.slice(0, 3), 'the two oldest marks went first')
  t.same(await relay.pass(), { published: 2, more: true })
  await waitFor('the second batch to clear', async () => await pendingCount(app) === 1, 10_000)
  t.same(await relay.pass(), { published: 1, more: false })
  await waitFor('the last one to clear', async () => await pendingCount(app) === 0, 10_000)
  t.same(await relay.pass(), { published: 0, more: false })
  t.equal(await metricValue('pb_outbox_pending', {}, app), 0)

  // An outage is waited out, pass after pass; anything else is a bug and ends the loop through onFatal.
  let calls = 0
  const fatal: unknown[] = []
  const looping = { metrics: app.metrics, publisher: app.publisher, log: app.log, intervalMs: 20, graceMs: 2000, onFatal: (err: unknown) => fatal.push(err) }
  const flaky = new Relay({ ...looping, runWrite: async () => { calls++; throw new MongoNetworkError('connection refused') } })
  flaky.start()
  await waitFor('retries', async () => calls >= 3, 5000)
  await flaky.stop()
  t.same(fatal, [], 'a MongoDB outage is not fatal')
  const broken = new Relay({ ...looping, runWrite: async () => { throw new TypeError('a bug') } })
  broken.start()
  await waitFor('the fatal report', async () => fatal.length > 0, 5000)
  await broken.stop()
  t.match(fatal, [{ name: 'TypeError', message: 'a bug' }], 'a bug is reported once, and the loop stops')
})

t.test('write-through with Redis down: the write still succeeds and still publishes', async (t) => {
  const app = await build(t, { role: 'write', cacheUpdate: 'write-through' })
  t.teardown(async () => { await stack('up', 'redis') })
  await stack('down', 'redis')
  const res = await post(app, '/users', { username: 'uncached' })
  t.equal(res.statusCode, 201)
  const { user_id: uid } = res.json<{ user_id: number }>()
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => g.some((r) => r.key === `user:${uid}`))
  t.same(got.map((r) => r.event.data), [res.json()], 'the consumer still gets the new version')

  await stack('up', 'redis')
  await waitFor('the Redis client to reconnect', async () => (await app.redis.ping().catch(() => null)) === 'PONG', 10_000)
  const next = (await post(app, '/users', { username: 'cached-again' })).json<{ user_id: number }>()
  t.equal(await app.redis.hget(entityKey('user', next.user_id), 'v'), '1', 'write-through resumes once Redis is back')
})

t.test('the store answering that it cannot serve now (shutdown, failover, its storage failing) is a plain 503', async (t) => {
  const config = testConfig({ role: 'write' })
  t.teardown(async () => { await dropNamespace(config) })
  const app = await buildApp(config, { logger: false })
  t.teardown(async () => { await app.close() })
  const cases: Array<[string, MongoServerError]> = [
    ['ShutdownInProgress', new MongoServerError({ message: 'shutdown in progress', code: 91 })],
    ['InternalError (FerretDB losing its PostgreSQL)', new MongoServerError({ message: 'failed to connect to postgres', code: 1 })],
    ['a RetryableWriteError label', new MongoServerError({ message: 'x', code: 50000, errorLabels: ['RetryableWriteError'] })],
    // What insertMany throws when the server goes away mid-command (seen as FerretDB stopped under load).
    ['a bulk write whose connection closed', new MongoBulkWriteError(new MongoNetworkError('connection 3 to 127.0.0.1:27018 closed'), {} as never)]
  ]
  for (const [i, [, err]] of cases.entries()) app.get(`/boom/${i}`, async () => { throw err })
  app.get('/boom/bug', async () => { throw new MongoServerError({ message: 'bad query shape', code: 2 }) })
  await app.ready()
  for (const [i, [name]] of cases.entries()) {
    const res = await app.inject(`/boom/${i}`)
    t.equal(res.statusCode, 503, name)
    t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'the data store is unavailable; try again shortly' })
  }
  t.equal((await app.inject('/boom/bug')).statusCode, 500, 'any other server error (BadValue) stays a 500')
})

t.test('MongoDB down: writes answer 503 with a plain message, and recover', async (t) => {
  const app = await build(t, { role: 'write' })
  t.teardown(async () => { await stack('up', 'mongo') })
  await stack('down', 'mongo')
  for (const [url, payload] of [['/users', { username: 'x' }], ['/posts', { user_id: 1, title: 't', content: 'c' }], ['/posts/1/like', undefined]] as const) {
    const res = await post(app, url, payload, { 'idempotency-key': `down-${url.length}` })
    t.equal(res.statusCode, 503, `${url}: 503`)
    t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'the data store is unavailable; try again shortly' })
    t.equal(res.headers['retry-after'], '1')
  }
  await stack('up', 'mongo')
  // Probed with writes of their own: a retry of the key under test while MongoDB is still coming back may itself fail
  // after it claimed the key (then the key is held, as it should be), which is not what this test is about.
  let probe = 0
  await waitFor('MongoDB to be back', async () => (await post(app, '/users', { username: `probe-${probe++}` })).statusCode === 201, 30_000)
  const again = await post(app, '/users', { username: 'x' }, { 'idempotency-key': 'down-6' })
  t.equal(again.statusCode, 201)
  t.match(again.json(), { username: 'x' }, 'the same key works once MongoDB is back: the failed attempt claimed nothing')
})
