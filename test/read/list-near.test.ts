// List pages with the near cache on: a warm page's ids are kept in process memory, so the page costs no Redis round
// trip at all; any change to the index (a new post, a rebuild, a flush) drops every kept page at once.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, dbOf, eventOf, indexReadyMark, insertPosts, invalidated, metricValue, nearOf, NO_IDENTITY, postDoc, waitFor } from '../helper/index.js'
import { POST_INDEX_KEY } from '../../src/cache/keys.js'
import { applyEvent } from '../../src/cache/apply.js'
import { NearCache } from '../../src/cache/near-cache.js'
import type { PostPage } from '../../src/shared/schemas.js'

const KEEP = { ...NO_IDENTITY, NEAR_CACHE_MAX_AGE_MS: '600000' }

async function withPosts (app: FastifyInstance, ids: number[]): Promise<void> {
  const docs = ids.map((id) => postDoc(id))
  await insertPosts(dbOf(app), docs)
  for (const d of docs) await applyEvent(app.redis, eventOf(d), 3600)
  await app.redis.zadd(POST_INDEX_KEY, ...ids.flatMap((id) => [id, String(id)]), 0, await indexReadyMark(app.redis))
}

const listed = async (app: FastifyInstance, query = 'limit=3'): Promise<number[]> =>
  (await app.inject(`/get_server/posts?${query}`)).json<PostPage>().items.map((p) => p.post_id)

const pageLookups = async (app: FastifyInstance, result: string): Promise<number> =>
  await metricValue(app.metrics.cacheLookups, { entity: 'post_list', result })

t.test('a warm page asks Redis for nothing; a new post in the index shows on the next page', async (t) => {
  const app = await build(t, { role: 'read' }, KEEP)
  const near = await nearOf(t, app)
  const before = near.invalidations
  await withPosts(app, [1, 2, 3])
  // Heard out first: an invalidation of the setup's writes arriving after the first page would drop it.
  await invalidated(near, before)
  t.same(await listed(app), [3, 2, 1])
  t.equal(await pageLookups(app, 'hit'), 1, 'the first page read the index in Redis')

  t.same(await listed(app), [3, 2, 1])
  t.equal(await pageLookups(app, 'near_hit'), 1, 'the second page of limit 3: from process memory')
  t.equal(await pageLookups(app, 'hit'), 1, 'not from the index in Redis')
  const cursor = (await app.inject('/get_server/posts?limit=1')).json<PostPage>().next_cursor!
  t.same(await listed(app, `limit=2&cursor=${cursor}`), [2, 1], 'another limit or cursor is another page')
  t.equal(await pageLookups(app, 'hit'), 3, 'each read the index once')

  const seen = near.invalidations
  await withPosts(app, [4])
  await invalidated(near, seen)
  t.same(await listed(app), [4, 3, 2], 'the new post at once')
  t.same(await listed(app, 'limit=2&cursor=' + (await app.inject('/get_server/posts?limit=2')).json<PostPage>().next_cursor!),
    [2, 1], 'pages further down read afresh too')
})

t.test('with the near cache off, every page reads the index', async (t) => {
  const app = await build(t, { role: 'read' }, { ...NO_IDENTITY, NEAR_CACHE_ENTRIES: '0' })
  await withPosts(app, [1, 2])
  for (let i = 0; i < 3; i++) t.same(await listed(app), [2, 1])
  t.equal(await pageLookups(app, 'hit'), 3)
  t.equal(await pageLookups(app, 'near_hit'), 0)
})

t.test('a page lookup in flight while the index changes stores nothing; tracking lost empties the pages', async (t) => {
  const app = await build(t, { role: 'read' }, KEEP)
  const near = await nearOf(t, app)
  const ticket = near.pageBegin()!
  t.ok(ticket, 'a ticket while tracking')
  const seen = near.invalidations
  await app.redis.zadd(POST_INDEX_KEY, 9, '9')
  await invalidated(near, seen)
  near.pageEnd(ticket, '3:', [8, 7])
  t.equal(near.page('3:'), undefined, 'read before the change: not kept')
  near.pageEnd(near.pageBegin()!, '3:', [9, 8])
  t.same(near.page('3:'), [9, 8], 'a lookup begun after it is kept')

  await app.redis.client('KILL', 'ID', String(near.clientId!))
  await waitFor('tracking lost', async () => !near.active)
  t.equal(near.page('3:'), undefined, 'emptied')
  t.equal(near.pageBegin(), null, 'and nothing can be stored while off')
})

t.test('kept pages are bounded in number and age; a flush drops them', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  let clock = 1_000_000
  const indexKey = (app.redis.options.keyPrefix ?? '') + POST_INDEX_KEY
  const near = new NearCache({ maxEntries: 10, maxAgeMs: 1000, log: app.log, indexKey, now: () => clock })
  t.equal(near.pageBegin(), null, 'not tracking yet')
  near.start(app.redis, [indexKey])
  t.teardown(async () => { await near.stop() })
  await waitFor('tracking set up', async () => near.active)
  for (let i = 0; i <= 1000; i++) near.pageEnd(near.pageBegin()!, `20:${i}`, [i])
  t.equal(near.page('20:0'), undefined, 'past 1,000 pages the oldest goes')
  t.same(near.page('20:1000'), [1000])
  clock += 1000
  t.equal(near.page('20:1000'), undefined, 'none outlives the age limit')
  near.pageEnd(near.pageBegin()!, '20:', [1])
  near.invalidate(null)
  t.equal(near.page('20:'), undefined, 'FLUSHDB drops every page')

  const plain = new NearCache({ maxEntries: 10, maxAgeMs: 1000, log: app.log })
  plain.start(app.redis, [indexKey])
  t.teardown(async () => { await plain.stop() })
  await waitFor('tracking set up', async () => plain.active)
  t.equal(plain.pageBegin(), null, 'a near cache without an index key keeps no pages')
})
