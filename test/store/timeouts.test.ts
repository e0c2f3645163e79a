// Issue 17, defect 7: store operations have a time limit below the Idempotency-Key lease, and a write whose client left
// before its batch started does not run. Faults come from the stack's toxiproxy, between the app and MongoDB.
import t from 'tap'
import { addToxic, build, call, cleanProxies, dbOf, proxiedEnv, removeToxic, serve, sleep } from '../helper/index.js'

// Short limits, so a stalled store is given up on within seconds.
const LIMITS = { MONGODB_SOCKET_TIMEOUT_MS: '1500', MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1500', WRITE_QUEUE_TIMEOUT_MS: '3000' }

t.test('a write whose MongoDB stops answering is answered 503 within its bound, not left hanging', async (t) => {
  await cleanProxies(t)
  const app = await build(t, { role: 'write' }, { ...proxiedEnv, ...LIMITS })
  const { base } = await serve(app)
  t.equal((await call(base, 'POST', '/post_server/users', { username: 'before' })).status, 201, 'writes go through the proxy')

  await addToxic('mongo', { type: 'timeout', attributes: { timeout: 0 } })
  const started = Date.now()
  const stalled = await call(base, 'POST', '/post_server/users', { username: 'stalled' }, { 'idempotency-key': 'stalled-1' }, 20_000)
  t.equal(stalled.status, 503, `answered 503 after ${Date.now() - started} ms (${stalled.text.slice(0, 120)})`)
  t.match(stalled.body, { statusCode: 503, message: 'the data store is unavailable; try again shortly' })
})

t.test('a write whose client disconnected before its batch started does not run', async (t) => {
  await cleanProxies(t)
  const app = await build(t, { role: 'write' }, { ...proxiedEnv, ...LIMITS })
  const { base } = await serve(app)
  t.equal((await call(base, 'POST', '/post_server/users', { username: 'warm' })).status, 201)

  // Every MongoDB answer takes 400 ms: the first create's batch (counter, journal entry, insert) holds the queue for
  // over a second, and the second create queues behind it.
  const slow = await addToxic('mongo', { type: 'latency', attributes: { latency: 400 } })
  const first = call(base, 'POST', '/post_server/users', { username: 'stays' }, {}, 20_000)
  await sleep(100)
  // Their clients give up while they wait for the batch (a username check alone takes 400 ms); the second one's
  // Idempotency-Key claim takes a round trip more, so its client may be gone before it even reaches the queue.
  const leaving = await Promise.all([
    call(base, 'POST', '/post_server/users', { username: 'leaves' }, {}, 700),
    call(base, 'POST', '/post_server/users', { username: 'leaves-too' }, { 'idempotency-key': 'leaves-1' }, 700)
  ])
  t.same(leaving.map((r) => r.text), ['timeout', 'timeout'], 'both clients disconnected before an answer')
  t.equal((await first).status, 201, 'the write ahead of it lands')
  await removeToxic('mongo', slow)
  await sleep(1000)
  const names = (await dbOf(app).collection<{ username: string }>('users').find().toArray()).map((u) => u.username).sort()
  t.same(names, ['stays', 'warm'], 'the abandoned creates never ran')

  // Its key was released, not kept with an answer nobody heard: the retry really runs, once.
  const retry = await call(base, 'POST', '/post_server/users', { username: 'leaves-too' }, { 'idempotency-key': 'leaves-1' })
  t.equal(retry.status, 201, `the retry runs (${retry.text.slice(0, 120)})`)
  t.equal(await dbOf(app).collection('users').countDocuments({ username: 'leaves-too' }), 1)
})

t.test('a write that waited WRITE_QUEUE_TIMEOUT_MS for its batch is refused with a 503 and does not run', async (t) => {
  await cleanProxies(t)
  const app = await build(t, { role: 'write' }, { ...proxiedEnv, ...LIMITS, WRITE_QUEUE_TIMEOUT_MS: '600' })
  const { base } = await serve(app)
  t.equal((await call(base, 'POST', '/post_server/users', { username: 'warm' })).status, 201)

  const slow = await addToxic('mongo', { type: 'latency', attributes: { latency: 400 } })
  const first = call(base, 'POST', '/post_server/users', { username: 'stays' }, {}, 20_000)
  await sleep(100)
  const late = await call(base, 'POST', '/post_server/users', { username: 'too-late' }, {}, 20_000)
  t.equal(late.status, 503, `refused (${late.text.slice(0, 120)})`)
  t.match(late.body, { statusCode: 503, message: 'the data store is unavailable; try again shortly' })
  t.equal((await first).status, 201)
  await removeToxic('mongo', slow)
  await sleep(1000)
  t.equal(await dbOf(app).collection('users').countDocuments({ username: 'too-late' }), 0, 'the refused write never ran')
})
