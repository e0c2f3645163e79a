// Fault: Kafka stopped mid-load. A real `--role all` process takes creates and likes over HTTP before, during and
// after the outage; every write it accepted must reach the cache once Kafka is back (relay + consumer), with the
// counts the clients were answered. Figure: accepted, converged, lost.
import t from 'tap'
import { call, converged, entryOf, figure, loop, namespace, outage, prng, sleep, stack, startRole, stores } from '../helper/index.js'

const WORKERS = 3
const PHASE_MS = 3000 // load before the outage, during it (after the broker is gone), and after it is back
const MAX_POSTS = 40 // then likes only: enough keys to spread over every partition, few enough to compare quickly

t.test('Kafka stopped mid-load: every accepted write reaches the cache after Kafka returns', async (t) => {
  const { env, config } = namespace(t, 'all', { RELAY_INTERVAL_MS: '200' })
  const app = await startRole(t, 'all', env)
  const { redis, db } = await stores(t, config)

  const user = await call(app.base, 'POST', '/post_server/users', { username: 'kafka-outage' })
  t.equal(user.status, 201)
  const userId = (user.body as { user_id: number }).user_id
  const likesAccepted = new Map<number, number>()
  const posts: number[] = []
  const tally = { creates: 0, likes: 0, refused: [] as string[], slowest: 0 }
  const rand = prng(8)

  const worker = async (): Promise<void> => {
    // One create in four, otherwise a like on a post this run created.
    if (posts.length < 5 || (posts.length < MAX_POSTS && rand.int(4) === 0)) {
      const res = await call(app.base, 'POST', '/post_server/posts', { user_id: userId, title: `p${posts.length}`, content: 'load' })
      tally.slowest = Math.max(tally.slowest, res.ms)
      if (res.status !== 201) { tally.refused.push(`create ${res.status} ${res.text}`); return }
      const id = (res.body as { post_id: number }).post_id
      posts.push(id)
      likesAccepted.set(id, 0)
      tally.creates++
    } else {
      const id = rand.pick(posts)
      const res = await call(app.base, 'POST', `/post_server/posts/${id}/like`)
      tally.slowest = Math.max(tally.slowest, res.ms)
      if (res.status !== 200) { tally.refused.push(`like ${res.status} ${res.text}`); return }
      likesAccepted.set(id, likesAccepted.get(id)! + 1)
      tally.likes++
    }
  }
  const load = Array.from({ length: WORKERS }, () => loop(worker))

  await sleep(PHASE_MS)
  const beforeOutage = tally.creates + tally.likes
  await outage(t, 'kafka')
  const atDown = tally.creates + tally.likes
  await sleep(PHASE_MS)
  const duringOutage = tally.creates + tally.likes - atDown
  await stack('up', 'kafka')
  await sleep(PHASE_MS)
  await Promise.all(load.map(async (l) => { await l.stop() }))

  t.same(tally.refused, [], 'no write was refused, before, during or after the outage')
  t.ok(beforeOutage > 0 && duringOutage > 0, `writes ran before (${beforeOutage}) and during (${duringOutage}) the outage`)
  t.ok(tally.slowest < 5000, `no write waited out the outage (slowest ${tally.slowest} ms)`)
  t.equal(app.child.exitCode, null, 'the process rode out the outage')

  const loadEnded = Date.now()
  const result = await converged(redis, db, { post: posts, user: [userId] }, 90_000)
  t.comment(`converged ${Date.now() - loadEnded} ms after the load ended`)
  t.same(result.stale, [], 'every cached entity is at its stored version')
  t.same(result.missing, [], 'every accepted entity is cached')

  // A create converged when its entity is cached; a like when the cached count includes it.
  let convergedWrites = (await entryOf(redis, 'user', userId)) === null ? 0 : 1
  const miscounted: string[] = []
  for (const id of posts) {
    const entry = await entryOf(redis, 'post', id)
    if (entry === null) continue
    const cached = (JSON.parse(entry.d) as { like_count: number }).like_count
    if (cached !== likesAccepted.get(id)) miscounted.push(`post ${id}: cached ${cached}, accepted ${likesAccepted.get(id)!}`)
    convergedWrites += 1 + Math.min(cached, likesAccepted.get(id)!)
  }
  t.same(miscounted, [], 'the cache counts exactly the likes accepted, post by post')
  const accepted = 1 + tally.creates + tally.likes
  figure(t, 'kafka-outage', `accepted ${accepted} (1 user, ${tally.creates} posts, ${tally.likes} likes; ` +
    `${duringOutage} while Kafka was down), converged ${convergedWrites}, lost ${accepted - convergedWrites}`)
  t.equal(convergedWrites, accepted, 'lost 0')
})
