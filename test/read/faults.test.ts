// Available reads (design invariant 3) against real outages of the private stack: Redis down, reads answer from
// MongoDB and readiness says degraded; MongoDB down, cached reads answer and misses get a plain 503.
import t from 'tap'
import { build, dbOf, entryOf, indexReadyMark, insertPosts, insertUsers, metricValue, NO_IDENTITY, postDoc, stack, userDoc, waitFor } from '../helper/index.js'
import { POST_INDEX_KEY } from '../../src/cache/keys.js'
import type { PostPage } from '../../src/shared/schemas.js'

t.test('Redis down: reads answer 200 from MongoDB, readiness is degraded, and the cache is used again after', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  t.teardown(async () => { await stack('up', 'redis') }) // whatever happens, leave Redis up for the next test
  const db = dbOf(app)
  await insertUsers(db, [userDoc(1, 1, 'grace')])
  await insertPosts(db, [postDoc(1, 1), postDoc(2, 1), postDoc(3, 1)])
  t.equal((await app.inject('/get_server/posts/1')).statusCode, 200, 'cached before the outage')

  await stack('down', 'redis')
  await waitFor('the client to notice', async () => app.redis.status !== 'ready')
  const errors = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'error' })
  const started = Date.now()
  const post = await app.inject('/get_server/posts/2')
  t.equal(post.statusCode, 200, 'a post that was never cached')
  t.equal(post.json().post_id, 2)
  t.equal((await app.inject('/get_server/posts/1')).statusCode, 200, 'a post that was cached')
  const conditional = await app.inject({ url: '/get_server/posts/3', headers: { 'min-version': '1' } })
  t.equal(conditional.headers.etag, '"p3-v1"', 'Min-Version and the ETag: from MongoDB too')
  t.equal((await app.inject('/get_server/users/1')).json().username, 'grace')
  t.equal((await app.inject('/get_server/posts/99')).statusCode, 404, 'absent is still 404')
  const list = await app.inject('/get_server/posts?limit=2')
  t.equal(list.statusCode, 200)
  t.same(list.json<PostPage>().items.map((p) => p.post_id), [3, 2], 'the list from MongoDB')
  const next = await app.inject(`/get_server/posts?limit=2&cursor=${list.json<PostPage>().next_cursor ?? ''}`)
  t.same(next.json<PostPage>().items.map((p) => p.post_id), [1], 'and its cursor pages on')
  t.ok(Date.now() - started < 5000, 'fast: failed Redis calls fail at once instead of waiting')
  t.ok(await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'error' }) >= errors + 2, 'counted as cache errors')
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200, 'still taking traffic')
  t.match(ready.json(), { status: 'degraded', checks: { redis: 'down', mongo: 'ok' } })

  await stack('up', 'redis')
  await waitFor('the client to reconnect', async () => app.redis.status === 'ready', 15_000)
  t.equal((await app.inject('/get_server/posts/2')).statusCode, 200)
  t.equal((await entryOf(app.redis, 'post', 2))?.v, 1, 'reads fill the cache again')
  t.match((await app.inject('/health/ready')).json(), { status: 'ok' })
})

t.test('MongoDB down: cache hits answer, misses are a plain 503, readiness is degraded', async (t) => {
  // A negative TTL longer than the outage set-up below, so the known-absent entry is still there to answer.
  const app = await build(t, { role: 'read' }, { ...NO_IDENTITY, NEGATIVE_TTL_SECONDS: '120' })
  t.teardown(async () => { await stack('up', 'mongo') })
  const db = dbOf(app)
  await insertUsers(db, [userDoc(1, 1, 'hopper')])
  await insertPosts(db, [postDoc(1, 1), postDoc(2, 1)])
  // Warm: two posts, one user, one known-absent post, and a full list page.
  for (const url of ['/get_server/posts/1', '/get_server/posts/2', '/get_server/users/1', '/get_server/posts/77']) await app.inject(url)
  await app.inject('/get_server/posts')
  await waitFor('the index', async () => await app.redis.zscore(POST_INDEX_KEY, await indexReadyMark(app.redis)) !== null)

  await stack('down', 'mongo')
  t.equal((await app.inject('/get_server/posts/1')).statusCode, 200, 'hit: 200')
  t.equal((await app.inject('/get_server/users/1')).json().username, 'hopper', 'hit: full entity')
  t.equal((await app.inject('/get_server/posts/77')).statusCode, 404, 'a cached absence still answers')
  const satisfied = await app.inject({ url: '/get_server/posts/1', headers: { 'min-version': '1' } })
  t.equal(satisfied.headers.etag, '"p1-v1"', 'a hit new enough for its Min-Version: 200')
  const unsure = await app.inject({ url: '/get_server/posts/1', headers: { 'min-version': '2' } })
  t.equal(unsure.statusCode, 503, 'a hit older than its Min-Version: 503, never the older version nor a guess at 412')
  const list = await app.inject('/get_server/posts')
  t.equal(list.statusCode, 200, 'a list page whose posts are all cached')
  t.same(list.json<PostPage>().items.map((p) => p.post_id), [2, 1])

  for (const url of ['/get_server/posts/3', '/get_server/users/2']) {
    const miss = await app.inject(url)
    t.equal(miss.statusCode, 503, `miss ${url}: 503`)
    t.same(miss.json(), { statusCode: 503, error: 'Service Unavailable', message: 'the data store is unavailable; try again shortly' },
      'a clear message, no driver internals')
    t.equal(miss.headers['retry-after'], '1')
  }
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.match(ready.json(), { status: 'degraded', checks: { redis: 'ok', mongo: 'down' } })

  await stack('up', 'mongo')
  await waitFor('MongoDB to answer misses again', async () => (await app.inject('/get_server/posts/3')).statusCode === 404, 30_000, 500)
  t.pass('misses are served again once MongoDB is back')
})
