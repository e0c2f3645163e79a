// The write role's Kafka side: decorates `publisher` (the idempotent producer behind a queue) and runs the relay that
// publishes whatever is still pending. Connects when the server is ready without waiting for Kafka (a write role
// without Kafka still takes writes); in onClose the relay stops, then the queue is flushed and the producer leaves.
// An error the relay cannot recover from ends the process through the same close path (rethrown out of band).
import fp from 'fastify-plugin'
import { ensureTopics } from './kafka.js'
import { Publisher } from '../src/outbox/publisher.js'
import { Relay } from '../src/outbox/relay.js'
import { timed } from '../src/shared/timed.js'
import { mongoDuration } from '../src/shared/metrics.js'
import { adoptUnflaggedMarks, clearPublished } from '../src/store/outbox.js'
import { deleteEntries } from '../src/store/journal.js'
import { sweepExpiredKeys } from '../src/store/idempotency-keys.js'

declare module 'fastify' {
  interface FastifyInstance { publisher: Publisher }
}

/** How long a request waits for Kafka before leaving its event to the relay. */
export const INLINE_PUBLISH_TIMEOUT_MS = 1000

export default fp(async (app) => {
  const { eventsTopic, dlqTopic, topicPartitions, relayIntervalMs } = app.config
  const publisher = new Publisher({
    kafka: app.kafka,
    topic: eventsTopic,
    log: app.log,
    inlineTimeoutMs: INLINE_PUBLISH_TIMEOUT_MS,
    prepare: async () => { await ensureTopics(app.kafka, [eventsTopic, dlqTopic], topicPartitions) },
    onPublished: async (events) => {
      await timed(mongoDuration, 'outbox_clear', async () => await app.mongoWrite.run(async (db) => await clearPublished(db, events)))
    },
    onReleased: async (entries) => {
      await timed(mongoDuration, 'journal_release', async () => await app.mongoWrite.run(async (db) => await deleteEntries(db, entries)))
    }
  })
  const relay = new Relay({
    runWrite: app.mongoWrite.run,
    publisher,
    log: app.log.child({ component: 'relay' }),
    intervalMs: relayIntervalMs,
    // Twice the inline wait, so the relay does not race a request still waiting for its own acknowledgement.
    graceMs: 2 * INLINE_PUBLISH_TIMEOUT_MS,
    sweep: async (db) => {
      const removed = await sweepExpiredKeys(db)
      if (removed > 0) app.log.debug({ removed }, 'idempotency: expired keys swept')
    },
    /* c8 ignore next 5 -- only a bug gets here; the relay's own test shows which errors are fatal */
    onFatal: (err) => {
      app.log.fatal({ err }, 'relay: unrecoverable error; shutting down')
      // Out of band, so close-with-grace (src/server.ts) sees an uncaught error and closes the app.
      setImmediate(() => { throw err })
    }
  })
  app.decorate('publisher', publisher)

  app.addHook('onReady', async () => {
    publisher.connect().catch((err: unknown) => {
      app.log.warn({ err }, 'kafka: not reachable at start; writes are kept pending and the relay publishes them once it is')
    })
    relay.start()
    // Marks an earlier version wrote without the `pending` flag: flagged once, so the relay publishes them too.
    app.mongoWrite.run(adoptUnflaggedMarks).then((adopted) => {
      if (adopted > 0) app.log.info({ adopted }, 'relay: flagged pending marks written by an earlier version')
    }, (err: unknown) => { app.log.warn({ err }, 'relay: could not flag earlier pending marks; they are flagged at the next start') })
  })

  app.addHook('onClose', async () => {
    await relay.stop()
    await publisher.close()
  })
}, { name: 'producer', dependencies: ['config', 'kafka', 'mongo'] })
