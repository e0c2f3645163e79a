// The read role's near cache (NEAR_CACHE_ENTRIES > 0), against the real Redis: hits from process memory, emptied by
// Redis's own invalidation messages (never by age here: entries may live ten minutes in these tests), the in-flight
// race closed, and nothing served while the tracking connection is down.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, dbOf, eventOf, indexReadyMark, insertPosts, invalidated, metricValue, nearOf, NO_IDENTITY, postDoc, waitFor } from '../helper/index.js'
import { entityKey, POST_INDEX_KEY } from '../../src/cache/keys.js'
import type { PostPage } from '../../src/shared/schemas.js'
import { NearCache } from '../../src/cache/near-cache.js'
import type { EntityText } from '../../src/cache/entity-json.js'
import { applyEvent } from '../../src/cache/apply.js'
import pino from 'pino'

const NEAR = { ...NO_IDENTITY, NEAR_CACHE_ENTRIES: '3', NEAR_CACHE_MAX_AGE_MS: '600000' }

const fullKey = (app: FastifyInstance, id: number): string => (app.redis.options.keyPrefix ?? '') + entityKey('post', id)

/** An entry as a lookup stores it: a text and its version. */
const text = (json: string): EntityText => ({ json, version: 1 })

t.test('on by default, 10,000 entries; NEAR_CACHE_ENTRIES=0 turns it off', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  t.not(app.nearCache, null)
  t.equal(app.config.nearCache.entries, 10_000)
  const off = await build(t, { role: 'read' }, { ...NO_IDENTITY, NEAR_CACHE_ENTRIES: '0' })
  t.equal(off.nearCache, null)
})

t.test('a hit from process memory; a new version in Redis invalidates it at once', async (t) => {
  const app = await build(t, { role: 'read' }, NEAR)
  const near = await nearOf(t, app)
  await insertPosts(dbOf(app), [postDoc(1, 1)])
  t.equal((await app.inject('/get_server/posts/1')).statusCode, 200, 'a miss: MongoDB, then the fill')
  const hits = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'hit' })
  const nearHits = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'near_hit' })
  t.equal((await app.inject('/get_server/posts/1')).json().like_count, 0, 'a Redis hit, now kept near')
  t.equal((await app.inject('/get_server/posts/1')).json().like_count, 0)
  t.equal(await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'hit' }), hits + 1, 'one Redis hit')
  t.equal(await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'near_hit' }), nearHits + 1, 'then a near hit')
  t.equal(near.get(fullKey(app, 1))?.version, 1, 'kept with its version (the ETag a near hit answers)')

  const seen = near.invalidations
  t.equal(await applyEvent(app.redis, eventOf(postDoc(1, 2)), 3600), true, 'the consumer applies version 2')
  await invalidated(near, seen)
  t.equal(near.get(fullKey(app, 1)), undefined, 'the entry is gone')
  t.equal((await app.inject('/get_server/posts/1')).json().like_count, 1, 'the next read sees version 2')
})

t.test('a lookup whose key changes while it is in flight stores nothing', async (t) => {
  const app = await build(t, { role: 'read' }, NEAR)
  const near = await nearOf(t, app)
  const key = fullKey(app, 5)
  const ticket = near.begin(key)!
  const seen = near.invalidations
  await app.redis.hset(entityKey('post', 5), 'v', '2', 'd', 'changed')
  await invalidated(near, seen)
  near.end(ticket, text('what the lookup read before the change'))
  t.equal(near.get(key), undefined, 'the spoiled ticket stored nothing')
  near.end(near.begin(key)!, text('read after the change'))
  t.equal(near.get(key)?.json, 'read after the change', 'a clean ticket stores')
})

t.test('a burst of reads of a key not near shares one Redis lookup; after a change, a read asks afresh', async (t) => {
  const app = await build(t, { role: 'read' }, { ...NEAR, NEAR_CACHE_MAX_AGE_MS: '100' })
  const near = await nearOf(t, app)
  await insertPosts(dbOf(app), [postDoc(7, 1)])
  t.equal((await app.inject('/get_server/posts/7')).statusCode, 200, 'a miss: MongoDB, then the fill')
  t.equal((await app.inject('/get_server/posts/7')).statusCode, 200, 'a Redis hit, kept near')
  // Past its age limit: every connection's next read of the entry misses the near cache at once.
  await new Promise((resolve) => setTimeout(resolve, 150))
  const lookups = await metricValue(app.metrics.redisDuration, { op: 'lookup' })
  const burst = await Promise.all(Array.from({ length: 20 }, async () => await app.inject('/get_server/posts/7')))
  t.ok(burst.every((r) => r.statusCode === 200 && r.json<{ like_count: number }>().like_count === 0), '20 answers, all 200')
  t.equal(await metricValue(app.metrics.redisDuration, { op: 'lookup' }), lookups + 1, 'one Redis lookup for the whole burst')
  t.equal(near.get(fullKey(app, 7))?.version, 1, 'and its answer kept near')

  // A change lands while a lookup of the key is in flight: a read arriving after its invalidation must not take the
  // older answer that lookup brings, so it does not join it (it asks Redis itself).
  const key = fullKey(app, 7)
  const inFlight = near.begin(key)!
  const seen = near.invalidations
  t.equal(await applyEvent(app.redis, eventOf(postDoc(7, 2)), 3600), true, 'version 2 applied')
  await invalidated(near, seen)
  t.equal(near.changedInFlight(key), true, 'the lookup in flight began before the change')
  t.equal((await app.inject('/get_server/posts/7')).json<{ like_count: number }>().like_count, 1, 'a read now sees version 2')
  near.end(inFlight, undefined)
  t.equal(near.changedInFlight(key), false, 'once that lookup is done, nothing is left in flight')
})

t.test('bounded: the oldest entry goes first; a flush message empties it all', async (t) => {
  const app = await build(t, { role: 'read' }, NEAR)
  const near = await nearOf(t, app)
  for (const id of [1, 2, 3, 4]) near.end(near.begin(fullKey(app, id))!, text(`post ${id}`))
  t.equal(near.size, 3, 'NEAR_CACHE_ENTRIES bounds it')
  t.equal(near.get(fullKey(app, 1)), undefined, 'the oldest went')
  t.equal(near.get(fullKey(app, 4))?.json, 'post 4')
  near.invalidate(null) // what Redis sends tracking clients on FLUSHDB/FLUSHALL
  t.equal(near.size, 0)
})

t.test('tracking lost: empty and off (reads go to Redis) until tracking is set up again', async (t) => {
  const app = await build(t, { role: 'read' }, NEAR)
  const near = await nearOf(t, app)
  await insertPosts(dbOf(app), [postDoc(7, 1)])
  for (let i = 0; i < 3; i++) await app.inject('/get_server/posts/7')
  t.equal(near.size, 1)
  const first = near.clientId!
  await app.redis.client('KILL', 'ID', String(first))
  await waitFor('tracking lost', async () => !near.active)
  t.equal(near.size, 0, 'emptied')
  t.equal(near.begin(fullKey(app, 7)), null, 'no ticket while off: nothing can be stored')
  await waitFor('tracking back', async () => near.active && near.clientId !== first, 30_000)
  const nearHits = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'near_hit' })
  for (let i = 0; i < 2; i++) t.equal((await app.inject('/get_server/posts/7')).statusCode, 200)
  t.equal(await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'near_hit' }), nearHits + 1, 'kept near again')
})

t.test('no entry outlives NEAR_CACHE_MAX_AGE_MS; concurrent lookups of one key share its spoiling', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  let clock = 1_000_000
  const near = new NearCache({ maxEntries: 10, maxAgeMs: 1000, log: app.log, now: () => clock })
  const prefix = app.redis.options.keyPrefix ?? ''
  near.start(app.redis, [prefix + 'pb:post:'])
  t.teardown(async () => { await near.stop() })
  await waitFor('tracking set up', async () => near.active)

  near.end(near.begin(fullKey(app, 1))!, text('young'))
  clock += 999
  t.equal(near.get(fullKey(app, 1))?.json, 'young', 'served within its age')
  clock += 1
  t.equal(near.get(fullKey(app, 1)), undefined, 'gone at NEAR_CACHE_MAX_AGE_MS, invalidated or not')
  t.equal(near.size, 0)

  const first = near.begin(fullKey(app, 2))!
  const second = near.begin(fullKey(app, 2))!
  const seen = near.invalidations
  await app.redis.hset(entityKey('post', 2), 'v', '1', 'd', 'changed')
  await invalidated(near, seen)
  near.end(first, text('read before the change'))
  near.end(second, text('also read before the change'))
  t.equal(near.get(fullKey(app, 2)), undefined, 'neither lookup in flight during the change stored anything')
})

t.test('a list page fills the near cache, so the next one costs no entity lookup; a change still shows at once', async (t) => {
  const app = await build(t, { role: 'read' }, { ...NO_IDENTITY, NEAR_CACHE_MAX_AGE_MS: '600000' })
  const near = await nearOf(t, app)
  const docs = [1, 2, 3].map((id) => postDoc(id))
  await insertPosts(dbOf(app), docs)
  for (const d of docs) await applyEvent(app.redis, eventOf(d), 3600)
  await app.redis.zadd(POST_INDEX_KEY, 1, '1', 2, '2', 3, '3', 0, await indexReadyMark(app.redis)) // the index, built
  const page = async (): Promise<number[]> => (await app.inject('/get_server/posts?limit=3')).json<PostPage>().items.map((p) => p.like_count)
  const nearHits = async (): Promise<number> => await metricValue('pb_cache_lookups_total', { entity: 'post', result: 'near_hit' }, app)
  t.same(await page(), [0, 0, 0])
  const before = await nearHits()
  t.same(await page(), [0, 0, 0])
  t.equal(await nearHits() - before, 3, 'the second page: its three posts from process memory')
  const seen = near.invalidations
  await applyEvent(app.redis, eventOf({ ...docs[1]!, like_count: 1, version: 2 }), 3600)
  await invalidated(near, seen)
  t.same(await page(), [0, 1, 0], 'a new version of one post shows on the next page')
})

t.test('a one-post page fills the near cache too', async (t) => {
  const app = await build(t, { role: 'read' }, { ...NO_IDENTITY, NEAR_CACHE_MAX_AGE_MS: '600000' })
  const near = await nearOf(t, app)
  const doc = postDoc(7)
  await insertPosts(dbOf(app), [doc])
  await applyEvent(app.redis, eventOf(doc), 3600)
  await app.redis.zadd(POST_INDEX_KEY, 7, '7', 0, await indexReadyMark(app.redis))
  t.same((await app.inject('/get_server/posts?limit=1')).json<PostPage>().items.map((p) => p.post_id), [7])
  t.equal(near.get(fullKey(app, 7))?.version, 1, 'kept near, like a GET by id keeps it')
  const nearHits = await metricValue('pb_cache_lookups_total', { entity: 'post', result: 'near_hit' }, app)
  t.same((await app.inject('/get_server/posts?limit=1')).json<PostPage>().items.map((p) => p.post_id), [7])
  t.equal(await metricValue('pb_cache_lookups_total', { entity: 'post', result: 'near_hit' }, app), nearHits + 1, 'the next page: from process memory')
})

t.test('a shutdown stops tracking without a warning: only a lost connection is worth one', async (t) => {
  const app = await build(t, { role: 'read' }, NEAR)
  const near = await nearOf(t, app)
  const lines: string[] = []
  const quiet = new NearCache({ maxEntries: 3, maxAgeMs: 600_000, log: pino({ level: 'warn' }, { write: (l: string) => { lines.push(l) } }) })
  quiet.start(app.redis, [fullKey(app, 0).replace(/0$/, '')])
  await waitFor('its tracking set up', async () => quiet.active)
  await quiet.stop()
  t.notOk(quiet.active, 'off once stopped')
  t.same(lines, [], 'and nothing logged at warn')
  t.ok(near.active, 'the app\'s own near cache is untouched')
})
