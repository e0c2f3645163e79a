// The decorated clients talk to the real servers: a Redis, a MongoDB and a Kafka round trip through them.
import t from 'tap'
import { MongoClient } from 'mongodb'
import { build, dbOf, NO_IDENTITY, testConfig, uniqueName, waitFor } from '../helper/index.js'
import { buildApp } from '../../src/app.js'
import { loggerOptions } from '../../src/server.js'
import { ensureTopics } from '../../src/bus/kafka.js'

t.test('redis and mongo round trips through app.redis and app.mongo', async (t) => {
  const app = await build(t, { role: 'read,write' })
  await app.redis.set('roundtrip', 'hello')
  t.equal(await app.redis.get('roundtrip'), 'hello')
  const col = dbOf(app).collection<{ _id: number, n: string }>('roundtrip')
  await col.insertOne({ _id: 1, n: 'one' })
  t.same(await col.findOne({ _id: 1 }), { _id: 1, n: 'one' })
  const viaWritePool = await app.runWrite((db) => db.collection('roundtrip').countDocuments())
  t.equal(viaWritePool, 1, 'the write pool sees the same database')
})

t.test('per-request write connections reach the same database', async (t) => {
  const app = await build(t, { role: 'write', writeConnections: 'per-request' })
  const res = await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'fresh-conn' } })
  t.equal(res.statusCode, 201)
  t.equal(app.hasDecorator('mongo'), false, 'no pool: each write opened its own connection')
  const own = new MongoClient(app.config.mongoUrl, { serverSelectionTimeoutMS: 3000 })
  t.teardown(async () => { await own.close() })
  t.equal(await own.db(app.config.mongoDatabase).collection('users').countDocuments({ username: 'fresh-conn' }), 1)
})

t.test('kafka round trip through app.kafka', async (t) => {
  const app = await build(t, { role: 'write' })
  const topic = uniqueName('pbtest.roundtrip.')
  await ensureTopics(app.kafka, [topic], 1, app.log)
  const admin = app.kafka.admin()
  await admin.connect()
  t.teardown(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {})
    await admin.disconnect()
  })
  t.ok((await admin.listTopics()).includes(topic), 'ensureTopics created the topic')
  await ensureTopics(app.kafka, [topic], 1, app.log) // idempotent

  const producer = app.kafka.producer()
  await producer.connect()
  await producer.send({ topic, messages: [{ key: 'k', value: 'ping' }] })
  await producer.disconnect()

  const consumer = app.kafka.consumer({ groupId: uniqueName('pbtest.rt.') })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const got = await new Promise<string>((resolve) => {
    consumer.run({ eachMessage: async ({ message }) => resolve(`${String(message.key)}=${String(message.value)}`) }).catch(() => {})
  })
  await consumer.disconnect()
  t.equal(got, 'k=ping')
})

t.test('a Redis password never reaches the logs, in the usual no-user form either', async (t) => {
  const lines: string[] = []
  const stream = { write: (line: string) => { lines.push(line) } }
  const config = testConfig({ role: 'read' }, { ...NO_IDENTITY, REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1' })
  // The production logger (its serializers and redaction), at info: the test environment keeps logs silent.
  const app = await buildApp(config, { logger: { ...loggerOptions(config, false), level: 'info', stream } })
  t.teardown(async () => { await app.close() })
  await app.ready()
  await app.inject('/get_server/posts/1') // a read makes the client connect (it connects lazily)
  await waitFor('the connection error to be logged', async () => lines.some((l) => l.includes('redis: connection error')), 3000)
  t.notOk(lines.some((l) => l.includes('hunter2-secret')), 'the password is in no line')
  t.ok(lines.some((l) => l.includes('redis://:***@127.0.0.1:1')), 'the URL is logged masked')
})
