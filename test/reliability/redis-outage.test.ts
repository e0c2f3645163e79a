// Fault: Redis stopped under reads. Readers keep reading over HTTP while a writer keeps liking; with Redis gone every
// read must still answer, from MongoDB (so it sees the likes acknowledged before it started); once Redis is back the
// consumer catches up and no cached entry is left behind MongoDB. Figure: reads answered / attempted.
import t from 'tap'
import { build, call, converged, figure, loop, metricValue, outage, prng, seedPosts, serve, sleep, stack, stores } from '../helper/index.js'

const POSTS = 30
const READERS = 4
const PHASE_MS = 2500

t.test('Redis stopped under reads: every read answers from MongoDB; after it returns the cache refills, nothing stale', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'off' })
  const { base } = await serve(app)
  const { redis, db } = await stores(t, app.config)

  const { userId, postIds: posts } = await seedPosts(base, 'redis-outage', POSTS, 'read me')
  t.same((await converged(redis, db, { post: posts, user: [userId] }, 30_000)).missing, [], 'the cache is warm before the outage')

  // Likes acknowledged so far, per post: a read that starts later must show at least that many once it reads MongoDB.
  const acked = new Map(posts.map((id) => [id, 0]))
  const rand = prng(9)
  const liker = loop(async () => {
    const id = rand.pick(posts)
    const res = await call(base, 'POST', `/post_server/posts/${id}/like`)
    if (res.status === 200) acked.set(id, Math.max(acked.get(id)!, (res.body as { like_count: number }).like_count))
  })

  let phase: 'before' | 'down' | 'returning' | 'after' = 'before'
  const reads = { attempted: 0, answered: 0, duringOutage: 0, answeredDuringOutage: 0, behind: [] as string[], failures: [] as string[] }
  const reader = async (): Promise<void> => {
    const readingUser = rand.int(5) === 0
    const id = readingUser ? userId : rand.pick(posts)
    const inOutage = phase === 'down'
    const floor = acked.get(id) ?? 0
    reads.attempted++
    if (inOutage) reads.duringOutage++
    const res = await call(base, 'GET', readingUser ? `/get_server/users/${id}` : `/get_server/posts/${id}`, undefined, {}, 5000)
    const body = res.body as { post_id?: number, user_id?: number, like_count?: number } | null
    if (res.status !== 200 || body?.[readingUser ? 'user_id' : 'post_id'] !== id) {
      reads.failures.push(`${phase} ${id}: ${res.status} ${res.text.slice(0, 120)}`)
      return
    }
    reads.answered++
    if (!inOutage) return
    reads.answeredDuringOutage++
    if (!readingUser && body.like_count! < floor) reads.behind.push(`post ${id}: read ${body.like_count!} likes, ${floor} acknowledged before`)
  }
  const readers = Array.from({ length: READERS }, () => loop(reader))

  await sleep(PHASE_MS)
  await outage(t, 'redis')
  phase = 'down'
  await sleep(PHASE_MS)
  phase = 'returning'
  await stack('up', 'redis')
  await sleep(PHASE_MS)
  phase = 'after'
  const hitsBefore = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'hit' })
  // Hits come back once the client is ready again: a Redis that reloads a large append-only file (a developer's stack
  // after benchmarks) answers "loading" for a while, and ioredis waits that out before it is ready.
  const hitsBy = Date.now() + 15_000
  while (await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'hit' }) <= hitsBefore && Date.now() < hitsBy) await sleep(250)
  await Promise.all([liker, ...readers].map(async (l) => { await l.stop() }))

  figure(t, 'redis-outage', `reads answered ${reads.answered} / attempted ${reads.attempted} ` +
    `(${reads.answeredDuringOutage} / ${reads.duringOutage} while Redis was down, none behind MongoDB: ${reads.behind.length === 0})`)
  t.same(reads.failures, [], 'every read answered 200 with its entity')
  t.equal(reads.answered, reads.attempted)
  t.ok(reads.duringOutage > 20, `reads ran while Redis was down (${reads.duringOutage})`)
  t.same(reads.behind, [], 'reads during the outage came from MongoDB: each saw every like acknowledged before it')
  t.ok(await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'hit' }) > hitsBefore, 'with Redis back, reads are cache hits again')

  const result = await converged(redis, db, { post: posts, user: [userId] }, 30_000)
  figure(t, 'redis-outage-after', `keys checked ${result.checked}, stale ${result.stale.length}, missing ${result.missing.length}`)
  t.same(result.stale, [], 'no stale entry survives: every entry is at its MongoDB version')
  t.same(result.missing, [], 'and every entity is cached again')
})
