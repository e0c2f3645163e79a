// Runs one entity write and finishes it: the event is queued under the document's lock, right after the change (so
// one entity's events are queued in version order), the new version goes into Redis in write-through mode, and the
// request waits a bounded time for Kafka's acknowledgement. Neither Redis nor Kafka can fail an accepted write.
import type { FastifyInstance } from 'fastify'
import type { Db } from 'mongodb'
import { timed } from '../shared/timed.js'
import { isRedisUnavailable } from '../cache/redis-errors.js'
import { applyEvent } from '../cache/apply.js'
import type { EntityEvent, EntityType } from '../shared/event.js'
import { casRejections, mongoDuration, redisDuration } from '../shared/metrics.js'
import { eventOf, type EntityDoc } from '../store/outbox.js'
import type { JournalEntry } from '../store/journal.js'

/** Called by the store while it holds the changed document's lock; a create passes its batch's journal entry. */
export type Committed<D> = (doc: D, entry?: JournalEntry) => void

export async function writeEntity<D extends EntityDoc> (
  app: FastifyInstance, type: EntityType, op: string, write: (db: Db, committed: Committed<D>) => Promise<D | null>
): Promise<D | null> {
  const out: { event?: EntityEvent, published?: Promise<boolean> } = {}
  const doc = await timed(mongoDuration, op, async () => await app.mongoWrite.run(async (db) => await write(db, (changed, entry) => {
    out.event = eventOf(type, changed)
    out.published = app.publisher.publish(out.event, 'inline', entry)
  })))
  const { event, published } = out
  if (event === undefined || published === undefined) return doc
  await Promise.all([
    app.config.cacheUpdate === 'write-through' ? writeThrough(app, event) : undefined,
    app.publisher.settleInline(published)
  ])
  return doc
}

/** Apps whose last write-through failed: an outage is logged when it starts and when it ends, not on every write. */
const failing = new WeakSet<FastifyInstance>()

/** The same version CAS the consumer uses, before the response, so a read right after the write sees it. */
async function writeThrough (app: FastifyInstance, event: EntityEvent): Promise<void> {
  try {
    const landed = await timed(redisDuration, 'write_through', async () => await applyEvent(app.redis, event, app.config.cacheTtlSeconds))
    if (!landed) casRejections.inc({ source: 'write_through' })
    if (failing.delete(app)) app.log.info('write-through: writing to redis again')
  } catch (err) {
    // The write is in MongoDB and its event still reaches the consumer; only this shortcut into the cache is lost.
    if (failing.has(app)) return
    failing.add(app)
    /* c8 ignore next 2 -- a refused command (not an outage) needs a misconfigured Redis */
    if (isRedisUnavailable(err)) app.log.warn({ err }, 'write-through: redis unavailable; the consumer applies the events meanwhile')
    else app.log.error({ err }, 'write-through: redis refused the update; the consumer applies the events meanwhile')
  }
}
