// The consumer role: one Kafka consumer group applying entity events to Redis. Starts when the server is ready,
// resolves and commits each offset only after its event is applied (or dead-lettered), and stops, committing, in
// onClose. Per-key order comes from the message key: one entity's events share a partition, and a partition's
// messages are applied in order (runs of them in one Redis round trip, each event after the one before it).
import fp from 'fastify-plugin'
import kafkajs, { type Consumer, type EachBatchPayload } from 'kafkajs'
import { createKafka, ensureTopics } from '../src/bus/kafka.js'
import { deadLetter } from '../src/consumer/dead-letter.js'
import { COMMIT_INTERVAL_MS, COMMIT_THRESHOLD, Commits } from '../src/consumer/commits.js'
import { createMessageHandler } from '../src/consumer/handle-message.js'
import { pollLag, type LagPoller } from '../src/consumer/lag.js'

declare module 'fastify' {
  interface FastifyInstance { consumer: Consumer }
}

const LAG_POLL_MS = 5000
const CONSUMER_RETRY = { retries: 120, initialRetryTime: 200, maxRetryTime: 1000 }
/** Messages applied per Redis round trip at most: a busy partition's backlog costs a few round trips, not one each. */
const APPLY_RUN = 200

export default fp(async (app) => {
  const { eventsTopic, dlqTopic, topicPartitions, consumerGroup, cacheTtlSeconds } = app.config
  // A crashed member holds its partitions until its session times out, so keep that short; the handler heartbeats
  // while it waits on Redis, so a long outage does not cost the membership.
  // kafkajs restarts a consumer whose broker went away; the restarted one joins as a new member, and the group waits
  // for the old membership's session (10 s) to expire before it fetches again: measured, 10.2-10.3 s after every
  // outage. kafkajs has no static membership (KIP-345) to avoid that wait, so the write role puts the versions Kafka
  // did not take into the cache itself (src/write/writes.ts). The consumer reconnects each second while Kafka is
  // away (its own client: connecting follows the client's retry, not the consumer's), not after a backoff of 5 s.
  const consumer = createKafka(app.config, app.log, CONSUMER_RETRY)
    .consumer({ groupId: consumerGroup, sessionTimeout: 10_000, heartbeatInterval: 2000, retry: CONSUMER_RETRY })
  // The default (murmur2) partitioner, like the write role's producer: a dead letter keeps its key's partition.
  const dlqProducer = app.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: kafkajs.Partitioners.DefaultPartitioner })
  app.decorate('consumer', consumer)
  let lag: LagPoller | undefined
  let started: Promise<void> = Promise.resolve()
  const { handle, applyLeading } = createMessageHandler({
    redis: app.redis,
    ttlSeconds: cacheTtlSeconds,
    deadLetter: async (from, message, reason, attempts) => {
      await deadLetter(dlqProducer, dlqTopic, from, message, reason, attempts)
    },
    log: app.log,
    metrics: app.metrics,
    tracing: app.tracing
  })
  const commits = new Commits(app.log)

  /** Applies a fetched batch of one partition, resolving each message's offset once it is applied or dead-lettered. */
  async function applyBatch ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const control = {
      topic: batch.topic,
      partition: batch.partition,
      heartbeat,
      active: () => isRunning() && !isStale()
    }
    const { messages } = batch
    for (let i = 0; i < messages.length;) {
      if (!control.active()) return
      // A run that applies cleanly is done in one round trip; the message after it (or one that fails alone)
      // goes through handle(), which retries, waits out Redis or dead-letters it.
      const run = await applyLeading(messages.slice(i, i + APPLY_RUN))
      for (const message of messages.slice(i, i + run)) resolveOffset(message.offset)
      i += run
      if (run === 0) {
        const message = messages[i]!
        // Anything thrown here (a failed dead-letter write, a rebalance) leaves this offset unresolved: what was
        // resolved is committed (Commits.afterBatch) and kafkajs fetches again from this message, so nothing is skipped.
        if (await handle(message, control) === 'stopped') return
        resolveOffset(message.offset)
        i++
      }
      await commitOffsetsIfNecessary()
      await heartbeat()
    }
  }

  app.addHook('onReady', async () => {
    await ensureTopics(app.kafka, [eventsTopic, dlqTopic], topicPartitions, app.log)
    await dlqProducer.connect()
    await consumer.connect()
    await consumer.subscribe({ topics: [eventsTopic], fromBeginning: true })
    // Not awaited: joining the group waits for members that have not left yet (a SIGKILLed predecessor, until its
    // session expires), which must not stall boot past Fastify's ready timeout. A join that fails for good reaches
    // the CRASH handler below, like any other crash.
    started = consumer.run({
      // Partitions run side by side; within one, messages are handled strictly in order.
      partitionsConsumedConcurrently: topicPartitions,
      eachBatchAutoResolve: false,
      // Commits by threshold and interval (src/consumer/commits.ts), during long batches too, and not after every
      // partition's batch as kafkajs's auto-commit would.
      autoCommit: false,
      autoCommitInterval: COMMIT_INTERVAL_MS,
      autoCommitThreshold: COMMIT_THRESHOLD,
      eachBatch: async (payload) => {
        let threw = true
        try {
          await applyBatch(payload)
          threw = false
        } finally {
          await commits.afterBatch(payload, threw)
        }
      }
    }).catch(/* c8 ignore next 4 -- kafkajs reports start failures through CRASH; this catches the unforeseen */ (err: unknown) => {
      app.log.fatal({ err }, 'consumer could not start; shutting down')
      // Rethrown out of band: close-with-grace runs the shutdown and exits 1, so an orchestrator restarts it.
      setImmediate(() => { throw err })
    })
    lag = pollLag(app.kafka, consumerGroup, eventsTopic, LAG_POLL_MS, app.log, app.metrics)
  })

  // kafkajs gives up after its retries and stops the consumer: that must end the process, not leave a silent replica.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    /* c8 ignore next 4 -- needs a non-retriable Kafka failure; the retriable ones restart the consumer by themselves */
    if (payload.restart) return
    app.log.fatal({ err: payload.error }, 'consumer crashed and will not restart; shutting down')
    setImmediate(() => { throw payload.error })
  })

  app.addHook('onClose', async () => {
    await lag?.stop()
    // A disconnect while the group join is still running would let the join finish afterwards and start fetching on
    // a closed client (keeping the process alive), so the join settles first.
    await started
    // What earlier batches resolved goes now; the batch in hand commits its own as it stops (Commits.afterBatch).
    await commits.flush()
    await consumer.disconnect() // waits for the batch in hand, then leaves the group
    await dlqProducer.disconnect()
  })
}, { name: 'consumer', dependencies: ['config', 'metrics', 'tracing', 'kafka', 'redis'] })
