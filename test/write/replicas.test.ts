// Two write replicas (two apps: they share only the servers) reacting to one post at once: every like is stored,
// on the local FerretDB too, whose own updates are not atomic across connections (a lease in Redis orders them); and
// a post another replica holds never holds up the rest of a batch; and creates through both get distinct ids, with
// a create made a block's lifetime later above them all.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { BLOCK_TTL_MS } from '../../src/store/id-blocks.js'
import { build, createPost, createUser, dbOf, dropNamespace, post, testConfig } from '../helper/index.js'

t.test('200 concurrent likes split across two write replicas: exactly 200', async (t) => {
  const config = testConfig({ role: 'write' })
  t.teardown(async () => { await dropNamespace(config) })
  const a = await build(t, config)
  const b = await build(t, config)
  const { user_id: uid } = await createUser(a, 'two-replicas')
  const { post_id: pid } = await createPost(b, uid)
  const likes = await Promise.all(Array.from({ length: 200 }, async (_, i) => await post(i % 2 === 0 ? a : b, `/posts/${pid}/${i % 4 === 3 ? 'dislike' : 'like'}`)))
  t.same([...new Set(likes.map((r) => r.statusCode))], [200], 'every reaction accepted')
  t.match(await dbOf(a).collection<{ _id: number }>('posts').findOne({ _id: pid }), { like_count: 150, dislike_count: 50, version: 201 }, 'and every one stored')
  const counts = likes.map((r) => r.json<{ like_count: number, dislike_count: number }>()).map((p) => p.like_count + p.dislike_count).sort((x, y) => x - y)
  t.same(counts, Array.from({ length: 200 }, (_, i) => i + 1), 'each answered with its own count')
  t.same(await a.redis.keys(`${config.redisKeyPrefix}lease:*`), [], 'no lease left behind')
})

t.test('a post another replica is changing waits for a later batch; the batch\'s other posts go ahead', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'held')
  const [held, free, stuck] = [(await createPost(app, uid)).post_id, (await createPost(app, uid)).post_id, (await createPost(app, uid)).post_id]
  const lease = (id: number): string => `lease:${app.config.mongoDatabase}/posts/${id}`
  // As another replica in the middle of its update would hold them: one briefly, one far past the wait.
  await app.redis.set(lease(held), 'another replica', 'PX', 400)
  await app.redis.set(lease(stuck), 'a stalled replica', 'PX', 60_000)
  const timedLike = async (id: number): Promise<[number, number]> => {
    const started = Date.now()
    const res = await post(app, `/posts/${id}/like`)
    return [res.statusCode, Date.now() - started]
  }
  const [[heldStatus, heldMs], [freeStatus, freeMs], [stuckStatus, stuckMs]] = await Promise.all([timedLike(held), timedLike(free), timedLike(stuck)])
  t.equal(freeStatus, 200)
  t.ok(freeMs < 300, `the free post was not held up by the others (${freeMs} ms)`)
  t.equal(heldStatus, 200)
  t.ok(heldMs >= 300, `the held post waited for its lease to go (${heldMs} ms)`)
  t.equal(stuckStatus, 503, 'a post held past the lease wait answers 503')
  t.ok(stuckMs >= 7500, `after the wait (${stuckMs} ms)`)
  const docs = await dbOf(app).collection<{ _id: number, like_count: number }>('posts').find({ _id: { $in: [held, free, stuck] } }).sort({ _id: 1 }).toArray()
  t.same(docs.map((d) => d.like_count), [1, 1, 0], 'the refused like changed nothing')
})

t.test('creates through two write replicas at once: distinct ids, and a create a block\'s lifetime later above them all', async (t) => {
  const config = testConfig({ role: 'write' })
  t.teardown(async () => { await dropNamespace(config) })
  const [a, b] = [await build(t, config), await build(t, config)]
  const { user_id: uid } = await createUser(a, 'two-creators')
  const ids: Record<'a' | 'b', number[]> = { a: [], b: [] }
  // Waves of concurrent creates on both, so each replica's batches use blocks up and grow them.
  for (let wave = 0; wave < 6; wave++) {
    await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      const side = i % 2 === 0 ? 'a' : 'b'
      const res = await post(side === 'a' ? a : b, '/posts', { user_id: uid, title: `w${wave}-${i}`, content: 'c' })
      t.equal(res.statusCode, 201)
      ids[side].push(res.json<{ post_id: number }>().post_id)
    }))
  }
  const all = [...ids.a, ...ids.b]
  t.equal(new Set(all).size, 240, '240 distinct ids')
  t.equal(await dbOf(a).collection('posts').countDocuments(), 240, 'each stored once')
  // A create on one replica after the other's last one, a block's lifetime apart, gets a greater id: blocks bound how
  // far apart in time two replicas' ids can be out of order.
  await sleep(BLOCK_TTL_MS + 20)
  const later = (await post(b, '/posts', { user_id: uid, title: 'later', content: 'c' })).json<{ post_id: number }>().post_id
  t.ok(later > Math.max(...all), `a later create is above every earlier one (${later} > ${Math.max(...all)})`)
})
