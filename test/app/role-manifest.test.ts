// Each role opens only what the role manifest lists: it boots and is ready with every dependency it does not need
// pointed at a closed port, and its readiness probes exactly the dependencies it uses.
import t from 'tap'
import { build } from '../helper/index.js'

/** A port nothing listens on: a connection attempt is refused at once. */
const CLOSED = '127.0.0.1:1'

t.test('consumer: ready with MongoDB and the identity validator unreachable', async (t) => {
  const app = await build(t, { role: 'consumer' }, {
    MONGODB_URL: `mongodb://${CLOSED}`,
    IDENTITY_MODE: 'lambda',
    LAMBDA_ENDPOINT: `http://${CLOSED}`
  })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', roles: ['consumer'], checks: { redis: 'ok', kafka: 'ok' } }, 'no MongoDB probe')
  t.equal(app.hasDecorator('mongo'), false, 'no MongoDB client at all')
  t.equal(app.hasDecorator('runWrite'), false)
  t.equal(app.hasDecorator('identity'), false, 'no identity validator client')
})

t.test('read: ready with Kafka unreachable; no write pool', async (t) => {
  const app = await build(t, { role: 'read' }, { KAFKA_BROKERS: CLOSED })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', roles: ['read'], checks: { redis: 'ok', mongo: 'ok' } }, 'no Kafka probe')
  t.equal(app.hasDecorator('kafka'), false, 'no Kafka client')
  t.ok(app.mongo.read, 'the read pool')
  t.equal(app.mongo.write, undefined, 'no write pool')
  t.equal(app.hasDecorator('runWrite'), false)
  t.equal((await app.inject('/get_server/users/1')).statusCode, 404, 'reads answer from MongoDB')
})

t.test('write: ready with the identity validator unreachable (no --auth-writes); no read pool', async (t) => {
  const app = await build(t, { role: 'write' }, { IDENTITY_MODE: 'lambda', LAMBDA_ENDPOINT: `http://${CLOSED}` })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', roles: ['write'], checks: { redis: 'ok', mongo: 'ok', kafka: 'ok' } })
  t.equal(app.mongo.read, undefined, 'no read pool')
  t.ok(app.mongo.write, 'the write pool')
  t.equal(app.identity.checker, null, 'no verifier without --auth-writes')
  const created = await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'manifest' } })
  t.equal(created.statusCode, 201)
})

t.test('write with a connection per write: no pool at all, readiness still probes MongoDB', async (t) => {
  const app = await build(t, { role: 'write', writeConnections: 'per-request' })
  t.equal(app.hasDecorator('mongo'), false, 'neither pool')
  const ready = await app.inject('/health/ready')
  t.same(ready.json(), { status: 'ok', roles: ['write'], checks: { redis: 'ok', mongo: 'ok', kafka: 'ok' } })
})

t.test('a dependency the role does use, at a closed port, is probed and reported', async (t) => {
  const app = await build(t, { role: 'write' }, { KAFKA_BROKERS: CLOSED })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200, 'writes run without Kafka (the relay publishes later)')
  t.match(ready.json(), {
    status: 'degraded',
    checks: { kafka: 'down', mongo: 'ok', redis: 'ok' },
    detail: { kafka: 'writes are stored and marked pending; the relay publishes them when Kafka is back' }
  })
})
