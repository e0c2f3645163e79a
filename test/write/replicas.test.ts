// Two write replicas (two apps: they share only the servers) reacting to one post at once: every like is stored,
// on the local FerretDB too, whose own updates are not atomic across connections (a lease in Redis orders them); and
// a post another replica holds never holds up the rest of a batch.
import t from 'tap'
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
