// A first start on brand-new topics (and a new consumer group) logs nothing at error level: the broker's transient
// answers while it creates topics and elects leaders and coordinators are retried by kafkajs, so they are debug. A
// real failure still logs at error: Kafka unreachable, or a topic the broker refuses to create.
import t from 'tap'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { createUser, dropNamespace, testConfig, waitFor, type Tap } from '../helper/index.js'
import type { Config } from '../../src/shared/config.js'

interface Line { level: number, msg: string, kafka?: { error?: string } }

/** An app on config whose every log line, at every level, lands in `lines`; closed (and its namespace dropped) in teardown. */
function capturing (t: Tap, config: Config): { lines: Line[], app: Promise<FastifyInstance> } {
  const lines: Line[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l) as Line); done() } })
  const app = buildApp(config, { logger: { level: 'trace', stream } })
  t.teardown(async () => { await (await app).close(); await dropNamespace(config) })
  return { lines, app }
}

const errors = (lines: Line[]): string[] => lines.filter((l) => l.level >= 50).map((l) => `${l.msg} ${l.kafka?.error ?? ''}`)

t.test('a first start on new topics and a new group: no error-level line, through the first event applied', async (t) => {
  // role=all: the write role and the consumer both make sure the topics exist, at once, on a fresh namespace.
  const config = testConfig({ role: 'all' }, { LOG_LEVEL: 'trace' })
  const { lines, app: pending } = capturing(t, config)
  const app = await pending
  await app.ready()
  const { user_id: id } = await createUser(app, 'first-boot')
  await waitFor('the first event applied', async () => (await app.inject({ url: `/get_server/users/${id}` })).statusCode === 200, 30_000)
  t.same(errors(lines), [], 'no error-level line')
  t.same(lines.filter((l) => l.level === 40 && l.msg.startsWith('kafka:')).map((l) => l.msg), [], 'and no Kafka warning')
  const quieted = lines.filter((l) => l.level === 20 && l.msg.startsWith('kafka: Response '))
  t.comment(`kafka answers retried and logged at debug: ${quieted.length} (${[...new Set(quieted.map((l) => l.kafka?.error))].join('; ')})`)
})

t.test('a real failure still logs at error: a topic the broker refuses to create', async (t) => {
  // Kafka topic names allow [a-zA-Z0-9._-] only: the broker answers INVALID_TOPIC_EXCEPTION, which is no retry.
  const config = testConfig({ role: 'consumer' }, { KAFKA_EVENTS_TOPIC: `bad topic ${Date.now()}` })
  const { lines, app: pending } = capturing(t, config)
  const app = await pending
  await t.rejects(async () => { await app.ready() }, 'the consumer does not start')
  t.match(errors(lines), [/kafka: could not create the topics/], 'logged at error')
})

t.test('a real failure still logs at error: Kafka unreachable', async (t) => {
  const config = testConfig({ role: 'consumer' }, { KAFKA_BROKERS: '127.0.0.1:1' })
  const { lines, app: pending } = capturing(t, config)
  const app = await pending
  await t.rejects(async () => { await app.ready() }, 'the consumer does not start')
  const found = errors(lines)
  t.ok(found.some((l) => /Connection error|ECONNREFUSED/.test(l)), 'kafkajs\'s connection failure is an error line')
  t.ok(found.some((l) => /could not create the topics/.test(l)), 'and so is the topic set-up it stopped')
})
