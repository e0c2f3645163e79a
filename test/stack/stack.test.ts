// The stack script starts, reports and stops each real service, and `up` after `down` brings back the same data.
import t from 'tap'
import { MongoClient } from 'mongodb'
import { Redis } from 'ioredis'
import kafkajs from 'kafkajs'
import { proxiedEnv, stack, stackEnv, uniqueName } from '../helper/index.js'

t.teardown(async () => { await stack('up') }) // whatever happens, leave the stack up for the next file

async function statusOf (name: string): Promise<'up' | 'down'> {
  const r = await stack('status', name).catch((err: { stdout: string }) => err)
  return new RegExp(`^${name}\\s+up\\s`, 'm').test(r.stdout) ? 'up' : 'down'
}

t.test('status lists every service with its URL', async (t) => {
  const { stdout } = await stack('status')
  for (const [name, url] of [['redis', 'redis://127.0.0.1:'], ['mongo', 'mongodb://127.0.0.1:'], ['kafka', 'kafka://127.0.0.1:'], ['lambda', 'http://127.0.0.1:'], ['toxiproxy', 'http://127.0.0.1:']]) {
    t.match(stdout, new RegExp(`^${name}\\s+up\\s+${url}\\d+`, 'm'), `${name} is up with its URL`)
  }
})

t.test('unknown service and command are refused', async (t) => {
  const unknown = await stack('up', 'postgres').then(() => null, (err: { stderr: string }) => err)
  t.match(unknown?.stderr, /unknown service 'postgres'/)
  const usage = await stack('explode').then(() => null, (err: { stderr: string }) => err)
  t.match(usage?.stderr, /usage: npm run stack/)
})

t.test('redis: down really stops it, up brings the same data back', async (t) => {
  const key = uniqueName('stacktest:')
  const r1 = new Redis(stackEnv.REDIS_URL)
  await r1.set(key, 'kept')
  r1.disconnect()
  await stack('down', 'redis')
  t.equal(await statusOf('redis'), 'down')
  await stack('down', 'redis') // idempotent
  await stack('up', 'redis')
  t.equal(await statusOf('redis'), 'up')
  const r2 = new Redis(stackEnv.REDIS_URL)
  t.equal(await r2.get(key), 'kept')
  await r2.del(key)
  r2.disconnect()
})

t.test('mongo: down stops FerretDB and its PostgreSQL, up keeps the documents', async (t) => {
  const db = uniqueName('pbtest_stack_')
  let client = new MongoClient(stackEnv.MONGODB_URL)
  await client.db(db).collection('c').insertOne({ _id: 1 as never, v: 'kept' })
  await client.close()
  await stack('down', 'mongo')
  t.equal(await statusOf('mongo'), 'down')
  const { stdout } = await stack('status', 'mongo').catch((err: { stdout: string }) => err)
  t.match(stdout, /^\s+pg\s+down\s/m, 'the PostgreSQL under FerretDB stopped too')
  await stack('down', 'mongo') // idempotent
  await stack('up', 'mongo')
  t.equal(await statusOf('mongo'), 'up')
  t.match((await stack('status', 'mongo')).stdout, /^\s+pg\s+up\s/m, 'and PostgreSQL is back')
  client = new MongoClient(stackEnv.MONGODB_URL)
  t.match(await client.db(db).collection('c').findOne({}), { v: 'kept' })
  await client.db(db).dropDatabase()
  await client.close()
})

t.test('kafka: down stops the broker, up brings the topics back', async (t) => {
  const topic = uniqueName('pbtest.stack.')
  const kafka = new kafkajs.Kafka({ brokers: [stackEnv.KAFKA_BROKERS], logLevel: kafkajs.logLevel.NOTHING })
  let admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
  await admin.disconnect()
  await stack('down', 'kafka')
  t.equal(await statusOf('kafka'), 'down')
  await stack('up', 'kafka')
  t.equal(await statusOf('kafka'), 'up')
  admin = kafka.admin()
  await admin.connect()
  t.ok((await admin.listTopics()).includes(topic), 'topic survived the restart')
  await admin.deleteTopics({ topics: [topic] })
  await admin.disconnect()
})

t.test('lambda: the emulator runs our function, and stops', async (t) => {
  const invoke = async (): Promise<unknown> => {
    const res = await fetch(`${stackEnv.LAMBDA_ENDPOINT}/2015-03-31/functions/function/invocations`, { method: 'POST', body: '{"token":"garbage"}' })
    return await res.json()
  }
  t.match(await invoke(), { valid: false, reason: 'malformed token' })
  await stack('down', 'lambda')
  t.equal(await statusOf('lambda'), 'down')
  await t.rejects(invoke(), 'nothing answers once it is down')
  await stack('up', 'lambda')
  t.match(await invoke(), { valid: false })
})

t.test('toxiproxy: its proxies forward to the services, and come back with it', async (t) => {
  const api = `http://127.0.0.1:${process.env.STACK_TOXIPROXY_PORT ?? 8474}`
  const names = async (): Promise<string[]> => Object.keys(await (await fetch(`${api}/proxies`)).json() as object).sort()
  t.same(await names(), ['kafka', 'mongo', 'redis'], 'one proxy per dependency')
  const ping = async (): Promise<string> => {
    const redis = new Redis(proxiedEnv.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    redis.on('error', () => {})
    try {
      await redis.connect()
      return await redis.ping()
    } finally {
      redis.disconnect()
    }
  }
  t.equal(await ping(), 'PONG', 'Redis answers through its proxy')
  await stack('down', 'toxiproxy')
  t.equal(await statusOf('toxiproxy'), 'down')
  await t.rejects(ping(), 'nothing listens on the proxy port once it is down')
  await stack('up', 'toxiproxy')
  t.same(await names(), ['kafka', 'mongo', 'redis'], 'the proxies are back')
  t.equal(await ping(), 'PONG')
})
