// Fault, repeated: Kafka stopped and started five times under a real `--role all` process at default settings. Each
// time, a like accepted during the outage must be in the cache within 3 s of Kafka answering again, and so must a like
// made just after (while the consumer group is still resuming). A write Kafka did not acknowledge puts its version in
// the cache itself (src/write/writes.ts), so the first is there even before Kafka is back. Figure: the times.
import t from 'tap'
import { call, entryOf, figure, namespace, sleep, stack, startRole, stores, waitFor } from '../helper/index.js'

const OUTAGES = 5
const BOUND_MS = 3000

t.test('after each of five Kafka outages the cache converges within 3 s of Kafka answering again', async (t) => {
  const { env, config } = namespace(t, 'all')
  t.teardown(async () => { await stack('up', 'kafka') })
  const app = await startRole(t, 'all', env)
  const { redis } = await stores(t, config)
  const user = await call(app.base, 'POST', '/post_server/users', { username: 'convergence' })
  const created = await call(app.base, 'POST', '/post_server/posts', { user_id: (user.body as { user_id: number }).user_id, title: 't', content: 'c' })
  const postId = (created.body as { post_id: number }).post_id
  const likeCount = async (): Promise<number | undefined> => {
    const entry = await entryOf(redis, 'post', postId)
    return entry === null ? undefined : (JSON.parse(entry.d) as { like_count: number }).like_count
  }
  await waitFor('the post to be cached', async () => await likeCount() === 0, 30_000)

  const times: number[] = []
  let likes = 0
  const visible = async (what: string, count: number): Promise<number> => {
    const from = Date.now()
    await waitFor(what, async () => await likeCount() === count, 60_000, 20)
    return Date.now() - from
  }
  for (let i = 1; i <= OUTAGES; i++) {
    await stack('down', 'kafka')
    t.equal((await call(app.base, 'POST', `/post_server/posts/${postId}/like`)).status, 200, `outage ${i}: a like is accepted while Kafka is down`)
    likes++
    t.ok(await visible(`outage ${i}: the like in the cache while Kafka is down`, likes) <= BOUND_MS, `outage ${i}: in the cache while Kafka is still down`)
    await stack('up', 'kafka') // returns once the broker answers
    const back = Date.now()
    t.equal((await call(app.base, 'POST', `/post_server/posts/${postId}/like`)).status, 200, `outage ${i}: a like just after Kafka is back`)
    likes++
    await visible(`outage ${i}: the like after the outage in the cache`, likes)
    times.push(Date.now() - back)
    t.ok(times.at(-1)! <= BOUND_MS, `outage ${i}: the cache holds every like ${times.at(-1)} ms after Kafka answered again`)
    // Once the relay has published again, writes go through Kafka, while the consumer group may still be resuming.
    await waitFor(`outage ${i}: the relay publishing again`, async () => (await call(app.base, 'GET', '/health/ready')).status === 200, 30_000)
    await sleep(1500)
    t.equal((await call(app.base, 'POST', `/post_server/posts/${postId}/like`)).status, 200)
    likes++
    const lag = await visible(`outage ${i}: a like once publishing resumed`, likes)
    t.ok(lag <= BOUND_MS, `outage ${i}: a like made once publishing resumed is in the cache after ${lag} ms`)
  }
  figure(t, 'kafka-convergence', `after ${OUTAGES} outages, converged in ${times.join(', ')} ms (bound ${BOUND_MS} ms)`)
})
