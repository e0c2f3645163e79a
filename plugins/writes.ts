// The write role's model, decorated as `writes` (src/write/writes.ts), with its outbox: `publisher` (the idempotent
// producer behind a queue) and the relay that publishes whatever is still pending. The producer connects when the
// server is ready without waiting for Kafka (a write role without Kafka still takes writes); in onClose the relay
// stops, the open id blocks close (so their journal entries can go), then the queue is flushed and the producer
// leaves. An error the relay cannot recover from ends the process through the same close path (rethrown out of band).
import fp from 'fastify-plugin'
import { ensureTopics } from '../src/bus/kafka.js'
import { Publisher } from '../src/outbox/publisher.js'
import { Relay } from '../src/outbox/relay.js'
import { entityTag } from '../src/shared/conditional.js'
import { timed } from '../src/shared/timed.js'
import { sweepExpiredKeys } from '../src/store/idempotency-keys.js'
import { deleteEntries } from '../src/store/journal.js'
import { clearPublished } from '../src/store/outbox.js'
import type { IdempotencyDeps } from '../src/write/idempotency.js'
import { Writes } from '../src/write/writes.js'

declare module 'fastify' {
  interface FastifyInstance {
    publisher: Publisher
    writes: Writes
    /** What the write routes' Idempotency-Key handling needs (src/write/idempotency.ts). */
    idempotency: IdempotencyDeps
  }
}

/** How long a request waits for Kafka before leaving its event to the relay. */
const INLINE_PUBLISH_TIMEOUT_MS = 1000

export default fp(async (app) => {
  const { eventsTopic, dlqTopic, topicPartitions, relayIntervalMs } = app.config
  const { runWrite, store, metrics } = app
  const publisher = new Publisher({
    kafka: app.kafka,
    metrics,
    topic: eventsTopic,
    log: app.log,
    inlineTimeoutMs: INLINE_PUBLISH_TIMEOUT_MS,
    tracing: app.tracing,
    prepare: async () => { await ensureTopics(app.kafka, [eventsTopic, dlqTopic], topicPartitions, app.log) },
    onPublished: async (events) => {
      await timed(metrics.mongoDuration, 'outbox_clear', async () => await runWrite(async (db) => await clearPublished(store, db, events)))
    },
    onReleased: async (entries) => {
      await timed(metrics.mongoDuration, 'journal_release', async () => await runWrite(async (db) => await deleteEntries(db, entries)))
    }
  })
  const relay = new Relay({
    runWrite,
    metrics,
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
  const writes = new Writes({
    runWrite,
    store,
    events: publisher,
    redis: app.redis,
    metrics,
    log: app.log,
    cacheUpdate: app.config.cacheUpdate,
    cacheTtlSeconds: app.config.cacheTtlSeconds,
    tracing: app.tracing
  })
  app.decorate('publisher', publisher)
  app.decorate('writes', writes)
  app.decorate('idempotency', {
    runWrite,
    ttlSeconds: app.config.idempotencyTtlSeconds,
    metrics,
    resume: async (pending) => {
      const { type, data, version } = await writes.resumeCreate(pending)
      return { body: data, etag: entityTag(type, pending.doc._id, version) }
    }
  } satisfies IdempotencyDeps)

  app.addHook('onReady', async () => {
    publisher.connect().catch((err: unknown) => {
      app.log.warn({ err }, 'kafka: not reachable at start; writes are kept pending and the relay publishes them once it is')
    })
    relay.start()
  })

  app.addHook('onClose', async () => {
    await relay.stop()
    store.creates.closeBlocks()
    await publisher.close()
  })
}, { name: 'writes', dependencies: ['tracing', 'config', 'metrics', 'redis', 'mongo-write', 'store', 'kafka'] })
