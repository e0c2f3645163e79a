// 200 concurrent likes racing 400 concurrent reads of the same post, over real HTTP through every role: the write
// path publishes each like's version, the consumer (and, in write-through mode, the write itself) applies it with the
// version CAS while read-through fills of older versions race it. The cache must converge to exactly 200 likes.
import t from 'tap'
import { build, dbOf, entryOf, metricValue, NO_IDENTITY, waitFor } from '../helper/index.js'
import { entityKey } from '../../src/cache/keys.js'
import type { Post } from '../../src/shared/schemas.js'
import { posts } from '../../src/store/collections.js'

const LIKES = 200
const READS = 400
const WAVES = 8

for (const cacheUpdate of ['events', 'write-through'] as const) {
  t.test(`${LIKES} likes vs ${READS} reads converge to exactly ${LIKES} (cache update: ${cacheUpdate})`, async (t) => {
    const app = await build(t, { role: 'all', cacheUpdate }, NO_IDENTITY)
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const post = async (path: string, body?: object): Promise<Response> => await fetch(`${base}/post_server${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {})
    })

    const user = await (await post('/users', { username: `liker-${cacheUpdate}` })).json() as { user_id: number }
    const created = await post('/posts', { user_id: user.user_id, title: 'hot', content: 'everyone likes this' })
    t.equal(created.status, 201)
    const { post_id: id } = await created.json() as Post
    await waitFor('the new post to be readable', async () => (await fetch(`${base}/get_server/posts/${id}`)).status === 200)

    const fillsRefused = await metricValue(app.metrics.casRejections, { source: 'fill' })
    const likes = Promise.all(Array.from({ length: LIKES }, async () => await post(`/posts/${id}/like`)))
    // Reads go in waves while the likes are in flight, each wave after dropping the entry (as a TTL expiry would), so
    // read-through fills of whatever version MongoDB has at that instant race the consumer's newer versions.
    const readRes: Response[] = []
    for (let wave = 0; wave < WAVES; wave++) {
      await app.redis.del(entityKey('post', id))
      readRes.push(...await Promise.all(Array.from({ length: READS / WAVES }, async () => await fetch(`${base}/get_server/posts/${id}`))))
    }
    const likeRes = await likes
    t.ok(likeRes.every((r) => r.status === 200), 'every like accepted')
    t.ok(readRes.every((r) => r.status === 200), 'every read answered')
    const seen = await Promise.all(readRes.map(async (r) => (await r.json() as Post).like_count))
    t.ok(seen.every((n) => n >= 0 && n <= LIKES), `reads saw counts from ${Math.min(...seen)} to ${Math.max(...seen)}, never outside 0..${LIKES}`)

    t.equal((await posts(dbOf(app)).findOne({ _id: id }))?.like_count, LIKES, 'MongoDB counted every like')
    await waitFor('the cache to converge', async () => (await entryOf(app.redis, 'post', id))?.v === LIKES + 1, 30_000)
    const entry = await entryOf(app.redis, 'post', id)
    t.equal((JSON.parse(entry!.d) as Post).like_count, LIKES, `the cache holds version ${LIKES + 1} with ${LIKES} likes`)
    const final = await Promise.all(Array.from({ length: 20 }, async () => await (await fetch(`${base}/get_server/posts/${id}`)).json() as Post))
    t.ok(final.every((p) => p.like_count === LIKES), `every read now answers exactly ${LIKES}`)
    t.comment(`fills refused by the CAS during the storm: ${await metricValue(app.metrics.casRejections, { source: 'fill' }) - fillsRefused}`)
  })
}
