// Health for orchestrators: /health/live answers whatever the dependencies do; /health/ready is 200 with "ok" or
// "degraded" (plus what the role does without the dependency) and 503 "unavailable" when one it needs is down.
import t from 'tap'
import { build } from '../helper/index.js'

// Nothing listens on port 1: the connection is refused at once, as with a stopped Redis.
const DEAD_REDIS = { REDIS_URL: 'redis://127.0.0.1:1', IDENTITY_MODE: 'off' }

t.test('every dependency up: ok, 200, one verdict per dependency the roles use, no detail', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'off' })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.match(ready.headers['content-type'], /application\/json/)
  const body = ready.json<Record<string, unknown>>()
  t.same(body, { status: 'ok', roles: ['read', 'write', 'consumer'], checks: { redis: 'ok', mongo: 'ok', kafka: 'ok' } })
  t.same((await app.inject('/health/live')).json(), { status: 'ok' })
})

t.test('read role without Redis: degraded, still 200 (reads fall back to MongoDB), and says so', async (t) => {
  const app = await build(t, { role: 'read' }, DEAD_REDIS)
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200, 'the replica keeps taking traffic')
  t.match(ready.json(), {
    status: 'degraded',
    roles: ['read'],
    checks: { redis: 'down', mongo: 'ok' },
    detail: { redis: /reads are served from MongoDB/ }
  })
  t.notOk('mongo' in ready.json<{ detail: object }>().detail, 'detail names only what is down')
  t.equal((await app.inject('/health/live')).statusCode, 200, 'liveness never depends on a dependency')
})

t.test('consumer role without Redis: unavailable, 503, with what it cannot do', async (t) => {
  const app = await build(t, { role: 'consumer' }, DEAD_REDIS)
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503, 'the orchestrator takes it out of service')
  t.match(ready.json(), {
    status: 'unavailable',
    roles: ['consumer'],
    checks: { redis: 'down', kafka: 'ok' },
    detail: { redis: /cannot be applied; offsets stay uncommitted/ }
  })
  t.equal((await app.inject('/health/live')).statusCode, 200)
})

t.test('several roles in one process: detail says which role does what', async (t) => {
  const app = await build(t, { role: 'all' }, DEAD_REDIS)
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503, 'the consumer needs Redis, so the process is unavailable')
  t.match(ready.json(), { status: 'unavailable', checks: { redis: 'down', mongo: 'ok', kafka: 'ok' } })
  const { detail } = ready.json<{ detail: Record<string, string> }>()
  t.same(Object.keys(detail), ['redis'])
  t.match(detail.redis, /^read: cache bypassed.*; write: writes still succeed.*; consumer: events cannot be applied/)
})
