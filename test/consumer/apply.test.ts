// The consumer against real Kafka and Redis: replays and duplicates change nothing, poison goes to the dead-letter
// topic with its reason after bounded retries while the partition moves on, and a Redis outage is waited out, not
// dead-lettered. Freshness and lag are exported.
import t from 'tap'
import { Redis as IORedis, type Redis } from 'ioredis'
import type { KafkaMessage } from 'kafkajs'
import { build, entryOf, eventOf, messageOf, metricValue, NO_IDENTITY, postDoc, publisher, stack, stackEnv, uniqueName, userDoc, waitCaughtUp, waitFor } from '../helper/index.js'
import { POST_INDEX_KEY } from '../../src/cache/keys.js'
import { applyEvent } from '../../src/cache/apply.js'
import { DLQ_HEADERS } from '../../src/consumer/dead-letter.js'
import { createMessageHandler } from '../../src/consumer/handle-message.js'
import type { PostDoc, UserDoc } from '../../src/store/collections.js'

/** Every key under the app's prefix with its full content, for before/after comparisons. */
async function snapshot (redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys = (await redis.keys(`${prefix}pb:*`)).map((k) => k.slice(prefix.length)).sort()
  const out: Record<string, unknown> = {}
  for (const key of keys) {
    out[key] = key === POST_INDEX_KEY ? await redis.zrange(key, '0', '-1', 'WITHSCORES') : await redis.hgetall(key)
  }
  return out
}

t.test('replayed, duplicated and out-of-order events change nothing', async (t) => {
  const app = await build(t, { role: 'consumer' }, NO_IDENTITY)
  const kafka = await publisher(t, app.config)
  const { consumerGroup, eventsTopic, redisKeyPrefix } = app.config
  const history = [
    ...[1, 2, 3].flatMap((id) => [1, 2, 3, 4].map((v) => eventOf(postDoc(id, v)))),
    ...[1, 2].map((id) => eventOf(userDoc(id, 1)))
  ]
  const freshness = await metricValue(app.metrics.consumerFreshness)
  await kafka.send(history.map(messageOf))
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic)
  for (const id of [1, 2, 3]) t.equal((await entryOf(app.redis, 'post', id))?.v, 4, `post ${id} at its last version`)
  t.ok(await metricValue(app.metrics.consumerFreshness) >= freshness + 5, 'freshness observed for the events that landed')
  const before = await snapshot(app.redis, redisKeyPrefix)
  t.same(Object.keys(before), ['pb:post:1', 'pb:post:2', 'pb:post:3', 'pb:posts:index', 'pb:user:1', 'pb:user:2'])

  // The whole history again (a consumer restarted from old offsets), then each event twice, newest first.
  const applied = await metricValue(app.metrics.consumerApplied, { result: 'applied' })
  const stale = await metricValue(app.metrics.consumerApplied, { result: 'stale' })
  await kafka.send(history.map(messageOf))
  await kafka.send([...history, ...history].reverse().map(messageOf))
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic)
  t.same(await snapshot(app.redis, redisKeyPrefix), before, 'Redis is exactly as it was')
  t.equal(await metricValue(app.metrics.consumerApplied, { result: 'applied' }), applied, 'nothing applied')
  t.equal(await metricValue(app.metrics.consumerApplied, { result: 'stale' }), stale + history.length * 3, 'every replay counted stale')
  t.equal(await applyEvent(app.redis, history[0]!, 3600), false, 'applyEvent itself reports a replay as not landed')
})

/** Reads every message on a topic from the beginning with a throwaway group. */
async function readTopic (kafka: import('kafkajs').Kafka, topic: string, expected: number): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('pbtest.dlqreader.') })
  const got: KafkaMessage[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => { got.push(message) } })
    await waitFor(`${expected} messages on ${topic}`, async () => got.length >= expected)
    return got
  } finally {
    await consumer.disconnect()
  }
}

t.test('poison: bounded retries, then the dead-letter topic with the reason, and the partition moves on', async (t) => {
  const app = await build(t, { role: 'consumer' }, NO_IDENTITY)
  const kafka = await publisher(t, app.config)
  const { consumerGroup, eventsTopic, dlqTopic } = app.config
  const dead = await metricValue(app.metrics.dlqMessages)
  const deadApplied = await metricValue(app.metrics.consumerApplied, { result: 'dead_lettered' })
  // Same key, so the same partition: the good event behind the poison proves the partition is not stuck.
  const key = 'post:1'
  const unknownType = JSON.stringify({ ...eventOf(postDoc(1, 1)), type: 'comment' })
  const started = Date.now()
  await kafka.send([
    { key, value: '{"type":"post",' },
    { key, value: unknownType, headers: { trace: 'abc' } },
    messageOf(eventOf(postDoc(1, 2)))
  ])
  await waitFor('the good event behind the poison', async () => (await entryOf(app.redis, 'post', 1))?.v === 2)
  t.ok(Date.now() - started < 10_000, 'retries are bounded in time')
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic)
  t.equal(await metricValue(app.metrics.dlqMessages), dead + 2, 'two messages dead-lettered')
  t.equal(await metricValue(app.metrics.consumerApplied, { result: 'dead_lettered' }), deadApplied + 2)

  const dlq = await readTopic(kafka.kafka, dlqTopic, 2)
  t.equal(dlq.length, 2)
  const byReason = dlq.map((m) => ({
    key: m.key?.toString(),
    value: m.value?.toString(),
    reason: m.headers?.[DLQ_HEADERS.reason]?.toString(),
    attempts: m.headers?.[DLQ_HEADERS.attempts]?.toString(),
    source: m.headers?.[DLQ_HEADERS.source]?.toString(),
    trace: m.headers?.trace?.toString()
  }))
  t.match(byReason[0], { key, value: '{"type":"post",', reason: 'message value is not JSON', attempts: '3', source: new RegExp(`^${eventsTopic}/\\d+/\\d+$`) })
  t.match(byReason[1], { key, value: unknownType, reason: /^not a valid event/, attempts: '3', trace: 'abc' }, 'original value and headers kept')
})

t.test('an event Redis refuses (the key holds another type) is retried, then dead-lettered with Redis\'s reason', async (t) => {
  const app = await build(t, { role: 'consumer' }, NO_IDENTITY)
  const kafka = await publisher(t, app.config)
  const { consumerGroup, eventsTopic, dlqTopic } = app.config
  await app.redis.set('pb:post:5', 'not a hash')
  const dead = await metricValue(app.metrics.dlqMessages)
  await kafka.send([messageOf(eventOf(postDoc(5, 1))), messageOf(eventOf(postDoc(5, 2)))])
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic)
  t.equal(await metricValue(app.metrics.dlqMessages), dead + 2, 'both dead-lettered: a refusal is the message\'s problem, not an outage')
  const dlq = await readTopic(kafka.kafka, dlqTopic, 2)
  t.match(dlq[0]?.headers?.[DLQ_HEADERS.reason]?.toString(), /^redis refused the event: WRONGTYPE/)
  t.equal(await app.redis.get('pb:post:5'), 'not a hash', 'the foreign key is left as it was')
})

t.test('Redis refusing the cache\'s commands (NOPERM by ACL) is an outage: held, never dead-lettered', async (t) => {
  // A user of our own that the test can deny, as an operator's ACL change (or MISCONF, NOAUTH) would.
  const admin = new IORedis(stackEnv.REDIS_URL)
  const user = uniqueName('pbacl').replace(/\W/g, '-')
  t.teardown(async () => { await admin.call('ACL', 'DELUSER', user); admin.disconnect() })
  await admin.call('ACL', 'SETUSER', user, 'on', '>acl-test-password', '~*', '&*', '+@all')
  const url = new URL(stackEnv.REDIS_URL)
  const app = await build(t, { role: 'consumer' }, { ...NO_IDENTITY, REDIS_URL: `redis://${user}:acl-test-password@${url.host}` })
  const kafka = await publisher(t, app.config)
  const { consumerGroup, eventsTopic } = app.config
  await kafka.send([messageOf(eventOf(postDoc(7, 1)))])
  await waitFor('version 1 applied', async () => (await entryOf(app.redis, 'post', 7))?.v === 1)

  const dead = await metricValue(app.metrics.dlqMessages)
  await admin.call('ACL', 'SETUSER', user, '-@write', '-@scripting')
  await kafka.send([messageOf(eventOf(postDoc(7, 2)))])
  // Well past the poison path's bounded retries, as in the outage test below.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  t.equal(await metricValue(app.metrics.dlqMessages), dead, 'nothing dead-lettered while Redis refuses')
  await admin.call('ACL', 'SETUSER', user, '+@all')
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic, 30_000)
  t.equal((await entryOf(app.redis, 'post', 7))?.v, 2, 'version 2 applied once Redis accepts again')
  t.equal(await metricValue(app.metrics.dlqMessages), dead, 'still nothing dead-lettered')
})

t.test('Redis down is not poison: the consumer holds the partition and applies everything once Redis is back', async (t) => {
  const app = await build(t, { role: 'consumer' }, NO_IDENTITY)
  t.teardown(async () => { await stack('up', 'redis') })
  const kafka = await publisher(t, app.config)
  const { consumerGroup, eventsTopic } = app.config
  await kafka.send([messageOf(eventOf(postDoc(1, 1)))])
  await waitFor('the consumer to apply before the outage', async () => (await entryOf(app.redis, 'post', 1))?.v === 1)

  const dead = await metricValue(app.metrics.dlqMessages)
  await stack('down', 'redis')
  const during = [...[1, 2, 3].map((v) => eventOf(postDoc(1, v + 1))), ...[2, 3, 4].map((id) => eventOf(postDoc(id, 1)))]
  await kafka.send(during.map(messageOf))
  // Well past the poison path's bounded retries (100 + 200 ms): had the outage been taken for poison, it would show.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  t.equal(await metricValue(app.metrics.dlqMessages), dead, 'nothing dead-lettered while Redis is down')

  // The lag gauge is polled from the broker, so it shows the backlog while the consumer is stuck.
  const lag = async (): Promise<number> => await metricValue(app.metrics.consumerLag)
  await waitFor('lag to show the backlog', async () => await lag() >= during.length, 15_000, 250)
  t.pass(`lag reported: ${await lag()} messages behind`)

  await stack('up', 'redis')
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic, 60_000)
  t.equal((await entryOf(app.redis, 'post', 1))?.v, 4, 'every version applied, in order')
  for (const id of [2, 3, 4]) t.equal((await entryOf(app.redis, 'post', id))?.v, 1, `post ${id} applied`)
  t.same(await app.redis.zrange(POST_INDEX_KEY, '0', '-1'), ['1', '2', '3', '4'], 'and indexed')
  t.equal(await metricValue(app.metrics.dlqMessages), dead, 'still nothing dead-lettered')
  await waitFor('lag back to zero', async () => await lag() === 0, 15_000, 250)
  t.pass('lag back to zero')
})

t.test('applyLeading: a clean run goes in one round trip; it stops before a message that needs handling alone', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  const { applyLeading } = createMessageHandler({
    redis: app.redis,
    ttlSeconds: 3600,
    deadLetter: async () => { throw new Error('applyLeading never dead-letters') },
    metrics: app.metrics,
    log: app.log
  })
  const msg = (value: string): KafkaMessage => ({ key: null, value: Buffer.from(value), offset: '0', timestamp: '0', attributes: 0, headers: {} })
  const ok = (doc: PostDoc | UserDoc): KafkaMessage => msg(JSON.stringify(eventOf(doc)))
  const applied = await metricValue(app.metrics.consumerApplied, { result: 'applied' })
  const stale = await metricValue(app.metrics.consumerApplied, { result: 'stale' })
  t.equal(await applyLeading([ok(postDoc(1, 2)), ok(userDoc(1, 1)), ok(postDoc(1, 1)), msg('{not json'), ok(postDoc(2, 1))]), 3,
    'the run ends before the unparsable message')
  t.equal((await entryOf(app.redis, 'post', 1))?.v, 2, 'the older version later in the run did not land')
  t.equal(await entryOf(app.redis, 'post', 2), null, 'nothing after the cut was applied')
  t.equal(await metricValue(app.metrics.consumerApplied, { result: 'applied' }), applied + 2)
  t.equal(await metricValue(app.metrics.consumerApplied, { result: 'stale' }), stale + 1)
  t.equal(await applyLeading([msg('{not json'), ok(postDoc(2, 1))]), 0, 'a run cannot start with it')
  t.equal(await applyLeading([]), 0)

  await app.redis.set('pb:post:5', 'not a hash')
  t.equal(await applyLeading([ok(postDoc(4, 1)), ok(postDoc(5, 1)), ok(postDoc(6, 1))]), 1, 'the run ends at the event Redis refused')
  t.equal((await entryOf(app.redis, 'post', 4))?.v, 1)
  t.equal(await app.redis.get('pb:post:5'), 'not a hash')
})
