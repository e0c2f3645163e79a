// Two write replicas (two apps: they share only the servers) reacting to one post at once: every like is stored,
// on the local FerretDB too, whose own updates are not atomic across connections (a lease in Redis orders them).
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
