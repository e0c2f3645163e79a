// Chaos tier, kafka: toxiproxy between the app and kafka, and mixed load (likes, creates, reads) run through each fault in
// turn (test/helper/chaos.ts). Figures per fault: requests answered within their bound, 5xx (documented 503s only),
// acknowledged writes lost, stale keys after convergence, time to converge. First, that a client bootstrapped through
// the proxy really stays behind it (the broker advertises the proxy's port for its proxied listener).
import t from 'tap'
import kafkajs from 'kafkajs'
import { addToxic, chaosApp, cleanProxies, FAULTS, proxiedEnv, removeToxic, report, runFault, stackEnv, uniqueName } from '../helper/index.js'

t.test('a Kafka client bootstrapped through the proxy sends everything through it', async (t) => {
  await cleanProxies(t)
  const direct = new kafkajs.Kafka({ brokers: [stackEnv.KAFKA_BROKERS], logLevel: kafkajs.logLevel.NOTHING }).admin()
  const topic = uniqueName('pbtest.probe.')
  await direct.connect()
  await direct.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] })
  t.teardown(async () => {
    await direct.deleteTopics({ topics: [topic], timeout: 5000 }).catch(() => {})
    await direct.disconnect()
  })
  const proxied = new kafkajs.Kafka({ brokers: [proxiedEnv.KAFKA_BROKERS], logLevel: kafkajs.logLevel.NOTHING, requestTimeout: 1500, connectionTimeout: 1500, retry: { retries: 0 } })
  const admin = proxied.admin()
  await admin.connect()
  const { brokers } = await admin.describeCluster()
  await admin.disconnect()
  t.same(brokers.map((b) => `${b.host}:${b.port}`), [proxiedEnv.KAFKA_BROKERS], 'the broker it is sent on to is the proxy')

  const producer = proxied.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } })
  await producer.connect()
  t.teardown(async () => { await producer.disconnect() })
  await producer.send({ topic, messages: [{ value: 'through the proxy' }] })
  const blocked = await addToxic('kafka', { type: 'timeout', attributes: { timeout: 0 } })
  await t.rejects(producer.send({ topic, messages: [{ value: 'blocked' }] }), 'with the proxy blocked, a send fails')
  await removeToxic('kafka', blocked)
})

t.test('kafka faults: every request answered in its bound, only documented 503s, nothing lost, nothing stale', async (t) => {
  const ctx = await chaosApp(t, 'chaos-kafka')
  for (const [i, fault] of FAULTS.entries()) {
    await t.test(fault.name, async (t) => {
      report(t, `chaos kafka ${fault.name}`, await runFault(ctx, 'kafka', fault.toxic, 100 + i))
    })
  }
})
