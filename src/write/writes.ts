// The write role's model: each write lands in MongoDB, then its event is queued for Kafka, its new version goes into
// Redis in write-through mode, and the request waits a bounded time for Kafka's acknowledgement. Neither Redis nor
// Kafka can fail an accepted write: an event not acknowledged stays in the outbox (pending mark or create journal)
// for the relay. The flow runs one way: route -> here -> store, then here -> event sink.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Db } from 'mongodb'
import { applyEvent } from '../cache/apply.js'
import { isRedisUnavailable } from '../cache/redis-errors.js'
import type { CacheUpdate } from '../shared/config.js'
import type { EntityEvent, EntityType } from '../shared/event.js'
import type { Metrics } from '../shared/metrics.js'
import type { CreatePostBody, Post, User } from '../shared/schemas.js'
import { timed } from '../shared/timed.js'
import { isDuplicateKey, toPost, toUser, type PendingCreate, type PostDoc, type UserDoc } from '../store/collections.js'
import { ENTITY_TYPE, type JournalEntry } from '../store/journal.js'
import { insertPending } from '../store/outcome.js'
import { UsernameTaken } from '../shared/errors.js'
import { eventOf, type EntityDoc } from '../store/outbox.js'
import { createPost } from '../store/posts.js'
import type { Reaction } from '../store/reaction-batcher.js'
import type { Versioned } from '../store/read.js'
import type { StoreState } from '../store/state.js'
import { createUser } from '../store/users.js'
import type { RunWrite } from '../store/connections.js'
import { SpanKind, hopContext, inSpan, keptTraceparent, type Context, type Tracing } from '../shared/tracing.js'

/** Where events go: the outbox publisher (src/outbox/publisher.ts) has this shape. */
export interface EventSink {
  /** Queues an event; resolves true once Kafka acknowledged it, false when it is left to the relay. */
  publish: (event: EntityEvent, path: 'inline', entry: JournalEntry, trace?: Context) => Promise<boolean>
  /** Waits for a publish a bounded time. */
  settleInline: (done: Promise<boolean>) => Promise<boolean>
  /** Whether Kafka is down or came back so lately that consumers may not be fetching yet. */
  readonly resuming: boolean
}

export interface WritesDeps {
  runWrite: RunWrite
  store: StoreState
  events: EventSink
  redis: Redis
  metrics: Pick<Metrics, 'casRejections' | 'mongoDuration' | 'redisDuration'>
  log: FastifyBaseLogger
  cacheUpdate: CacheUpdate
  cacheTtlSeconds: number
  tracing: Tracing
}

export class Writes {
  /** Whether the last write-through failed: an outage is logged when it starts and when it ends, not every write. */
  private writeThroughFailing = false

  constructor (private readonly deps: WritesDeps) {}

  // Each write answers the entity with the version it produced: the route sends that version as the ETag, which a
  // client passes back as Min-Version to read its own write on any replica. `trace` is the request's trace context
  // (a new trace when none is given): the MongoDB write's span hangs below it, and the event carries it to Kafka. A
  // write whose signal aborts before its batch starts (its client left, or it waited for the batch too long:
  // write-signal.ts) does not run.

  async createUser (username: string, trace: Context = hopContext(undefined), signal?: AbortSignal): Promise<Versioned<User>> {
    const { doc, entry } = await this.timed('create_user', trace, async (db) => await createUser(this.deps.store, db, username, signal, keptTraceparent(this.deps.tracing, trace)))
    await this.finish('user', doc, entry, trace)
    return { data: toUser(doc), version: doc.version }
  }

  async createPost (body: CreatePostBody, trace: Context = hopContext(undefined), signal?: AbortSignal): Promise<Versioned<Post>> {
    const { doc, entry } = await this.timed('create_post', trace, async (db) => await createPost(this.deps.store, db, body, signal, keptTraceparent(this.deps.tracing, trace)))
    await this.finish('post', doc, entry, trace)
    return { data: toPost(doc), version: doc.version }
  }

  /**
   * Lands a create whose first insert went unconfirmed (src/store/outcome.ts): created now, or found already there,
   * once either way; answered as it was first created, and published as it is now.
   */
  async resumeCreate (pending: PendingCreate, trace: Context = hopContext(undefined)): Promise<{ type: EntityType, data: User | Post, version: number }> {
    const type = ENTITY_TYPE[pending.collection]
    let landed: Awaited<ReturnType<typeof insertPending>>
    try {
      landed = await this.timed('resume_create', trace, async (db) => await insertPending(db, pending))
    } catch (err) {
      if (isDuplicateKey(err) && type === 'user') throw new UsernameTaken((pending.doc as UserDoc).username)
      throw err
    }
    await this.finish(type, landed.doc, landed.entry, trace)
    const data = type === 'user' ? toUser(pending.doc as UserDoc) : toPost(pending.doc as PostDoc)
    return { type, data, version: pending.doc.version }
  }

  /** The post as one more like or dislike left it, or null when it does not exist. */
  async react (id: number, kind: Reaction, trace: Context = hopContext(undefined), signal?: AbortSignal): Promise<Versioned<Post> | null> {
    const changed = await this.timed(`post_${kind}`, trace, async (db) => await this.deps.store.reactions.react(db, id, kind, signal, keptTraceparent(this.deps.tracing, trace)))
    if (changed === null) return null
    // Its batch's latest state goes out: one event carries every reaction of the batch (see reaction-batcher.ts).
    await this.finish('post', changed.latest, changed.entry, trace)
    return { data: toPost(changed.doc), version: changed.doc.version }
  }

  private async timed<T> (op: string, trace: Context, write: (db: Db) => Promise<T>): Promise<T> {
    const span = { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'mongodb', 'db.operation.name': op } }
    return await inSpan(this.deps.tracing, `mongodb ${op}`, trace, span, async () =>
      await timed(this.deps.metrics.mongoDuration, op, async () => await this.deps.runWrite(write)))
  }

  /**
   * Publishes the new version with its journal entry, writes it through if asked, then waits for Kafka. A version
   * Kafka did not acknowledge in time, or made while consumers may still be resuming after an outage, goes into the
   * cache from here too (the same version CAS): while Kafka is down nothing else would carry it there, and after an
   * outage the consumer group needs seconds to fetch again (a restarted kafkajs consumer waits out its old
   * membership's session), so the cache stays current through an outage and right after it.
   * The event itself still reaches Kafka (inline, or through the relay); the consumer's later apply is a no-op.
   */
  private async finish (type: EntityType, doc: EntityDoc, entry: JournalEntry, trace: Context): Promise<void> {
    const event = eventOf(type, doc)
    const published = this.deps.events.publish(event, 'inline', entry, trace)
    if (this.deps.cacheUpdate === 'write-through') {
      await Promise.all([this.writeThrough(event), this.deps.events.settleInline(published)])
    } else if (!await this.deps.events.settleInline(published) || this.deps.events.resuming) {
      await this.writeThrough(event)
    }
  }

  /** The same version CAS the consumer uses, before the response, so a read right after the write sees it. */
  private async writeThrough (event: EntityEvent): Promise<void> {
    const { redis, metrics, log, cacheTtlSeconds } = this.deps
    try {
      const landed = await timed(metrics.redisDuration, 'write_through', async () => await applyEvent(redis, event, cacheTtlSeconds))
      if (!landed) metrics.casRejections.inc({ source: 'write_through' })
      if (this.writeThroughFailing) log.info('write-through: writing to redis again')
      this.writeThroughFailing = false
    } catch (err) {
      // The write is in MongoDB and its event still reaches the consumer; only this shortcut into the cache is lost.
      if (this.writeThroughFailing) return
      this.writeThroughFailing = true
      /* c8 ignore next 2 -- a refused command (not an outage) needs a misconfigured Redis */
      if (isRedisUnavailable(err)) log.warn({ err }, 'write-through: redis unavailable; the consumer applies the events meanwhile')
      else log.error({ err }, 'write-through: redis refused the update; the consumer applies the events meanwhile')
    }
  }
}
