// When the consumer commits (src/consumer/commits.ts), against real Kafka: a stream of small produce requests costs a
// few offset commits, not one per partition batch, and a group that goes quiet, or a consumer that stops, still has
// every applied message committed.
import t from 'tap'
import { build, eventOf, messageOf, NO_IDENTITY, postDoc, publisher, waitCaughtUp } from '../helper/index.js'
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
    await new Promise((resolve) => setTimeout(resolve, 10))
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
  await new Promise<void>((resolve) => {
    const check = setInterval(() => { if (applied >= 6) { clearInterval(check); resolve() } }, 1)
  })
  await app.close()
  await waitCaughtUp(kafka.kafka, consumerGroup, eventsTopic, 0) // checked once: no waiting for a late commit
  t.pass('every partition committed to its end by the time close returns')
})
