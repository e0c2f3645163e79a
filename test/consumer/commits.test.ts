// When the consumer commits (src/consumer/commits.ts), against real Kafka: a stream of small produce requests costs a
// few offset commits, not one per partition batch, and a group that goes quiet, or a consumer that stops (between
// batches or in the middle of one), has every applied message committed and nothing more.
import t from 'tap'
import { addToxic, build, cleanProxies, entryOf, eventOf, messageOf, NO_IDENTITY, postDoc, proxiedEnv, publisher, sleep, stores, waitCaughtUp, waitFor } from '../helper/index.js'
import { COMMIT_INTERVAL_MS, COMMIT_THRESHOLD } from '../../src/consumer/commits.js'

t.test('many small batches, few commits; a quiet group is committed up to its end', async (t) => {
  const app = await build(t, { role: 'consumer' }, NO_IDENTITY)
  const kafka = await publisher(t, app.config)
  const { consumerGroup, eventsTopic } = app.config
  let batches = 0
  let commits = 0
  app.consumer.on(app.consumer.events.END_BATCH_PROCESS, () => { batches++ })
  app.consumer.on(app.consumer.events.COMMIT_OFFSETS, () => { commits++ })

  const started = Date.now()
  const SENDS = 60
  for (let s = 0; s < SENDS; s++) {
    // Three posts per send, so each lands on up to three partitions: kafkajs's auto-commit would commit each batch.
    await kafka.send([1, 2, 3].map((id) => messageOf(eventOf(postDoc(100 * s + id, 1)))))
    await sleep(10)
  }
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic)
  const seconds = (Date.now() - started) / 1000
  t.ok(batches >= SENDS, `at least a batch per send (${batches} batches)`)
  // By interval and by the trailing commit, each at most one per interval; the threshold adds one per 1,000 messages.
  const bound = 2 * Math.ceil(seconds * 1000 / COMMIT_INTERVAL_MS) + 2 + Math.ceil(3 * SENDS / COMMIT_THRESHOLD)
  t.ok(commits <= bound, `${commits} commits for ${batches} batches in ${seconds.toFixed(1)} s (at most ${bound})`)
  t.ok(commits < batches / 3, 'far fewer commits than batches')
})

t.test('a consumer that stops commits what it applied', async (t) => {
  const app = await build(t, { role: 'consumer' }, NO_IDENTITY)
  const kafka = await publisher(t, app.config)
  const { consumerGroup, eventsTopic } = app.config
  let applied = 0
  app.consumer.on(app.consumer.events.END_BATCH_PROCESS, ({ payload }) => { applied += payload.batchSize })
  await kafka.send([1, 2, 3, 4, 5, 6].map((id) => messageOf(eventOf(postDoc(id, 1)))))
  // Closed as soon as the last message is applied: before the trailing commit would have gone out.
  await waitFor('the six events to be applied', async () => applied >= 6, 20_000, 1)
  await app.close()
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic, 0) // checked once: no waiting for a late commit
  t.pass('every partition committed to its end by the time close returns')
})

t.test('a consumer stopped in the middle of a batch commits exactly what it applied, no more', async (t) => {
  await cleanProxies(t)
  // Redis 150 ms away: the batch below takes five round trips of 200 events, and the close lands between two of them.
  const app = await build(t, { role: 'consumer' }, { ...NO_IDENTITY, REDIS_URL: proxiedEnv.REDIS_URL })
  const { consumerGroup, eventsTopic } = app.config
  const kafka = await publisher(t, app.config)
  const { redis } = await stores(t, app.config)
  await addToxic('redis', { type: 'latency', attributes: { latency: 150 } })

  const admin = kafka.kafka.admin()
  await admin.connect()
  t.teardown(async () => { await admin.disconnect() })
  const highs = async (): Promise<Map<number, number>> =>
    new Map((await admin.fetchTopicOffsets(eventsTopic)).map((p) => [p.partition, Number(p.high)]))
  const before = await highs()
  // One post's versions 1..1000: one key, so one partition, applied in order; Redis keeps the newest applied.
  await kafka.send(Array.from({ length: 1000 }, (_, i) => messageOf(eventOf(postDoc(7, i + 1)))))
  const after = await highs()
  const partition = [...after].find(([p, high]) => high - (before.get(p) ?? 0) === 1000)![0]

  await waitFor('the first run of the batch to land', async () => ((await entryOf(redis, 'post', 7))?.v ?? 0) >= 200, 30_000)
  await app.close()
  const applied = (await entryOf(redis, 'post', 7))!.v
  t.ok(applied < 1000, `stopped in the middle of the batch (${applied} of 1000 applied)`)
  const [committed] = await admin.fetchOffsets({ groupId: consumerGroup, topics: [eventsTopic] })
  const at = Number(committed!.partitions.find((p) => p.partition === partition)!.offset)
  t.equal(at - before.get(partition)!, applied, 'the committed offset is just past the last applied event')
})
