// Kafka as managed services run it, against the stack broker's TLS (client certificate required) and SASL (SCRAM,
// PLAIN) listeners: the app's own client factory produces and consumes through each; a whole app writes through
// SASL and its consumer applies the event; refused credentials stop the boot with a message naming the settings.
import tap from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import pino from 'pino'
import kafkajs from 'kafkajs'
import { checkAccess, createKafka, ensureTopics, KafkaAccessError } from '../../src/bus/kafka.js'
import type { Config } from '../../src/shared/config.js'
import {
  build, createUser, dropNamespace, entryOf, isolatedEnv, kafkaFor, readEvents, ROOT, stackKafkaSecurity as sec,
  testConfig, uniqueName, waitFor, type Tap
} from '../helper/index.js'

const file = (name: string): string => join(sec.dir, name)
const TLS = { KAFKA_BROKERS: sec.sslBrokers, KAFKA_SSL: 'true', KAFKA_SSL_CA_PATH: file('ca.pem'), KAFKA_SSL_CERT_PATH: file('client.crt'), KAFKA_SSL_KEY_PATH: file('client.key') }
const sasl = (mechanism: string, password = sec.password()): Record<string, string> =>
  ({ KAFKA_BROKERS: sec.saslBrokers, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: sec.user, KAFKA_SASL_PASSWORD: password })

/** A logger keeping every line, to show that no password reaches a log. */
function capturingLog (): { log: pino.Logger, lines: string[] } {
  const lines: string[] = []
  return { lines, log: pino({ level: 'trace' }, { write: (line: string) => { lines.push(line) } }) }
}

/** Creates the topic, produces one message and consumes it back, all through the app's client factory. */
async function roundTrip (t: Tap & Pick<typeof tap, 'equal'>, config: Config, log: pino.Logger): Promise<string> {
  t.teardown(async () => { await dropNamespace(config) })
  const kafka = createKafka(config, log)
  await ensureTopics(kafka, [config.eventsTopic], 1, log)
  const value = uniqueName('hello-')
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: kafkajs.Partitioners.DefaultPartitioner })
  await producer.connect()
  await producer.send({ topic: config.eventsTopic, acks: -1, messages: [{ key: 'k', value }] })
  await producer.disconnect()
  const consumer = kafka.consumer({ groupId: config.consumerGroup })
  let got = ''
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [config.eventsTopic], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => { got = String(message.value) } })
    await waitFor('the message to come back', async () => got !== '', 30_000, 50)
  } finally {
    await consumer.disconnect()
  }
  t.equal(got, value, 'the message produced is the one consumed')
  return value
}

tap.test('TLS with a client certificate: produce and consume', async (t) => {
  const { log } = capturingLog()
  const config = testConfig({}, TLS)
  t.ok(config.kafkaSecurity.ssl !== false && config.kafkaSecurity.ssl.ca?.includes('BEGIN CERTIFICATE'), 'the CA is read at boot')
  await roundTrip(t, config, log)
})

for (const mechanism of ['scram-sha-256', 'scram-sha-512', 'plain']) {
  tap.test(`SASL ${mechanism}: produce and consume`, async (t) => {
    await roundTrip(t, testConfig({}, sasl(mechanism)), capturingLog().log)
  })
}

tap.test('the whole app (--role=all) writes through SASL, and its consumer applies the event', async (t) => {
  const app = await build(t, { role: 'all' }, sasl('scram-sha-256'))
  const { user_id: id } = await createUser(app, 'sasl-alice')
  const got = await readEvents(kafkaFor(app.config), app.config.eventsTopic, (g) => g.some((r) => r.key === `user:${id}`))
  t.ok(got.some((r) => r.key === `user:${id}` && r.event.version === 1), 'the event is on the topic, read back through SASL')
  const entry = await waitFor('the consumer to apply the event', async () => await entryOf(app.redis, 'user', id), 20_000)
  t.equal(entry?.v, 1, 'the consumer (SASL too) put version 1 in the cache')
})

tap.test('refused credentials stop the boot, naming the settings, never the password', async (t) => {
  const wrong = 'not-the-password-of-the-stack-user'
  for (const role of ['write', 'consumer']) {
    const err = await build(t, { role }, sasl('scram-sha-512', wrong)).then(() => undefined, (e: unknown) => e as Error)
    t.match(err?.message, /^KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD: the brokers refused user 'postboard' \(scram-sha-512\)/, `${role}: refused`)
    t.notOk(err?.message.includes(wrong), `${role}: the message does not hold the password`)
  }
  // The broker requires a client certificate; without one the handshake fails.
  const { KAFKA_SSL_CERT_PATH: _c, KAFKA_SSL_KEY_PATH: _k, ...noClientCert } = TLS
  const err = await build(t, { role: 'write' }, noClientCert).then(() => undefined, (e: unknown) => e as Error)
  t.match(err?.message, /^KAFKA_SSL_CA_PATH, KAFKA_SSL_CERT_PATH, KAFKA_SSL_KEY_PATH: the TLS handshake with the brokers failed/)
  // Trusting only the system's CAs, the stack's broker certificate is not trusted.
  const { KAFKA_SSL_CA_PATH: _a, ...systemCa } = TLS
  const untrusted = await build(t, { role: 'write' }, systemCa).then(() => undefined, (e: unknown) => e as Error)
  t.match(untrusted?.message, /^KAFKA_SSL_CA_PATH, .*TLS handshake with the brokers failed/)
})

tap.test('brokers that cannot be reached are an outage, not a refusal: the write role still starts', async (t) => {
  // Port 1: nothing listens there, so every connection is refused at once.
  const app = await build(t, { role: 'write' }, { ...sasl('scram-sha-256'), KAFKA_BROKERS: '127.0.0.1:1' })
  t.ok(app.hasDecorator('writes'), 'the write role is up; its relay publishes once Kafka is back')
})

tap.test('a refused password reaches no log line and no error message', async (t) => {
  const wrong = 'another-wrong-password-to-look-for'
  const { log, lines } = capturingLog()
  const err = await checkAccess(testConfig({}, sasl('scram-sha-256', wrong)), log).then(() => undefined, (e: unknown) => e)
  t.type(err, KafkaAccessError)
  t.ok(lines.length > 0, `the client logged the refusal (${lines.length} lines)`)
  t.notOk(lines.some((l) => l.includes(wrong)), 'none holds the password')
  t.notOk((err as Error).message.includes(wrong), 'nor does the error')
})

tap.test('the executable: a wrong password exits with one line naming the settings', async (t) => {
  const env = isolatedEnv(sasl('scram-sha-256', 'wrong-password-for-the-cli'))
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli.ts`, '--role', 'consumer', '--port', '0'],
    { cwd: ROOT, env: { ...process.env, ...env } })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const [code] = await once(child, 'exit') as [number]
  t.not(code, 0, 'exits non-zero')
  t.match(stderr, /^postboard: KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD: the brokers refused user 'postboard'/)
  t.equal(stderr.trim().split('\n').length, 1, 'one line, no stack trace')
  t.notOk(stderr.includes('wrong-password-for-the-cli'), 'the password is not printed')
})
