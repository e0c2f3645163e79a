// A consumer killed mid-stream loses nothing: the consumer role runs as a real process, is SIGKILLed while events
// are flowing, and a fresh process in the same group takes over from the last commit; every key converges to its
// last version and every post is indexed. Replays after the kill are harmless (version CAS).
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { dropNamespace, eventOf, isolatedEnv, kafkaFor, messageOf, NO_IDENTITY, postDoc, ROOT, waitCaughtUp, waitFor } from '../helper/index.js'
import { loadConfig } from '../../src/shared/config.js'
import { POST_INDEX_KEY, entityKey } from '../../src/cache/keys.js'
import kafkajs from 'kafkajs'

const POSTS = 60
const VERSIONS = 25 // 1,500 events

function startConsumer (env: Record<string, string>): { child: ChildProcess, ready: Promise<void>, output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli.ts`, '--role', 'consumer', '--port', '0'],
    { cwd: ROOT, env: { ...process.env, ...env } })
  let out = ''
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString()
      if (out.includes('postboard ready')) resolve()
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
    child.on('exit', (code, signal) => reject(new Error(`consumer exited (${String(code ?? signal)}) before it was ready: ${out}`)))
  })
  ready.catch(() => {})
  return { child, ready, output: () => out }
}

async function stop (child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  await exited
}

t.test('SIGKILL mid-stream, restart: every key converges, nothing lost, nothing dead-lettered', async (t) => {
  const env = isolatedEnv({ ...NO_IDENTITY, LOG_LEVEL: 'info' })
  const config = loadConfig({ role: 'consumer' }, env)
  t.teardown(async () => { await dropNamespace(config) })
  const redis = new Redis(config.redisUrl, { keyPrefix: config.redisKeyPrefix })
  t.teardown(() => { redis.disconnect() })
  const kafka = kafkaFor(config)
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: kafkajs.Partitioners.DefaultPartitioner })

  const first = startConsumer(env)
  t.teardown(async () => { await stop(first.child, 'SIGKILL') })
  await first.ready // it has created the topics and joined the group
  await producer.connect()
  t.teardown(async () => { await producer.disconnect() })

  // Versions go out in waves (one version of every post per send), so the stream is still flowing at the kill.
  let sent = 0
  const sendWave = async (v: number): Promise<void> => {
    await producer.send({ topic: config.eventsTopic, acks: -1, messages: Array.from({ length: POSTS }, (_, i) => messageOf(eventOf(postDoc(i + 1, v)))) })
    sent += POSTS
  }
  // The first twenty waves in one send, so the consumer has a backlog, and the kill as soon as it has applied
  // anything: a consumer this fast drains waves sent one by one before a poll sees it part-way.
  const BEFORE_KILL = 20
  await producer.send({ topic: config.eventsTopic, acks: -1, messages: Array.from({ length: BEFORE_KILL }, (_, w) => Array.from({ length: POSTS }, (_, i) => messageOf(eventOf(postDoc(i + 1, w + 1))))).flat() })
  sent += BEFORE_KILL * POSTS
  await waitFor('the first consumer to be part-way', async () => Number(await redis.hget(entityKey('post', 1), 'v')) >= 1, 20_000, 2)
  first.child.kill('SIGKILL')
  const [, signal] = await once(first.child, 'exit') as [number | null, string | null]
  t.equal(signal, 'SIGKILL', 'the first consumer was killed, not stopped')
  const versionsAtKill = await Promise.all(Array.from({ length: POSTS }, async (_, i) => Number(await redis.hget(entityKey('post', i + 1), 'v'))))
  t.ok(versionsAtKill.some((v) => v < BEFORE_KILL), `killed mid-stream (versions at the kill: ${Math.min(...versionsAtKill)}..${Math.max(...versionsAtKill)} of ${BEFORE_KILL})`)

  for (let v = BEFORE_KILL + 1; v <= VERSIONS; v++) await sendWave(v) // produced while no consumer runs
  t.equal(sent, POSTS * VERSIONS)

  const second = startConsumer(env)
  t.teardown(async () => { await stop(second.child, 'SIGTERM') })
  await second.ready
  await waitCaughtUp(kafka, config.consumerGroup, config.eventsTopic, 90_000)

  const finals = await Promise.all(Array.from({ length: POSTS }, async (_, i) => await redis.hgetall(entityKey('post', i + 1))))
  t.ok(finals.every((e) => e.v === String(VERSIONS)), `all ${POSTS} posts at version ${VERSIONS}`)
  t.ok(finals.every((e, i) => JSON.parse(e.d!).like_count === VERSIONS - 1 && JSON.parse(e.d!).post_id === i + 1), 'with their last data')
  t.equal(await redis.zcard(POST_INDEX_KEY), POSTS, 'every post indexed once')

  const admin = kafka.admin()
  await admin.connect()
  const dlq = await admin.fetchTopicOffsets(config.dlqTopic)
  await admin.disconnect()
  t.ok(dlq.every((p) => p.high === '0'), 'nothing dead-lettered')

  await stop(second.child, 'SIGTERM')
  t.equal(second.child.exitCode, 0, 'the second consumer shuts down cleanly on SIGTERM')
})
