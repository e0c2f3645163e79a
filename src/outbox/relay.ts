// The relay: a loop in the write role that publishes, after a short grace period, every document still marked pending
// and every journal entry still open (Kafka was down, the inline publish timed out, or a replica stopped
// between its write and its publish). It publishes a document's current full state, so one event carries every
// change it missed; a mark is cleared only for the version published, and an entry deleted only once all its
// documents are on Kafka. Several replicas may relay at once: they may publish a document twice (consumers are
// idempotent by version) but never clear a version nobody published.
// Longer than most files: one pass reads both halves of the outbox (pending marks and the create journal), and their
// order and the shared gauge are the point of keeping them in one place.
import { isSocketError } from '../shared/socket-errors.js'
import { MongoError, type Db } from 'mongodb'
import kafkajs from 'kafkajs'
import type { FastifyBaseLogger } from 'fastify'
import type { Metrics } from '../shared/metrics.js'
import { timed } from '../shared/timed.js'
import { remoteContext, type Context } from '../shared/tracing.js'
import type { RunWrite } from '../store/connections.js'
import { countPending, entities, eventOf, pendingDocs, type EntityDoc } from '../store/outbox.js'
import { countJournaled, ENTITY_TYPE, entryIds, overdueEntries, traceOfEntry, type JournalDoc, type JournalEntry, type JournalPosition } from '../store/journal.js'
import type { EntityType } from '../shared/event.js'
import type { Publisher } from './publisher.js'

export interface RelayOptions {
  /** Runs fn with the write role's database handle. */
  runWrite: RunWrite
  metrics: Pick<Metrics, 'mongoDuration' | 'outboxPending'>
  publisher: Publisher
  log: FastifyBaseLogger
  intervalMs: number
  /** A document younger than this is left to its own inline publish. */
  graceMs: number
  /** Documents per type per pass; a full pass starts the next one at once. */
  batchSize?: number
  /** Create-journal entries per pass (each names up to a batch of creates, read one by one). */
  journalBatchSize?: number
  /**
   * An entry older than this whose documents are not all there is given up on for the missing ones: their insert
   * failed. Younger, a missing document may still be landing. (One landing even later is still published by its own
   * request; only a replica stopping in that very moment would leave it unpublished.)
   */
  abandonMs?: number
  /** Housekeeping run every few passes (expired idempotency keys). */
  sweep?: (db: Db) => Promise<void>
  sweepEveryMs?: number
  /** Called with an error the loop cannot recover from (a bug, not an outage); the loop has stopped. */
  onFatal: (err: unknown) => void
}

const TYPES: EntityType[] = ['user', 'post']
/** Reads of one entry's documents in flight at once: by _id, each one FerretDB pushes down to an index lookup. */
const READ_CONCURRENCY = 16

/** Outages the loop waits out: MongoDB or Kafka unreachable, or an operation the server refused this time. */
function isTransient (err: unknown): boolean {
  return err instanceof MongoError || err instanceof kafkajs.KafkaJSError || isSocketError(err)
}

export class Relay {
  private stopped = true
  private running: Promise<void> | null = null
  private wake: (() => void) | null = null
  private timer: NodeJS.Timeout | undefined
  private lastSweep = 0
  private failing = false
  /**
   * Journal entries with documents still missing, by entry id, and when they are given up on: their landed documents
   * are published at once, and the entry is not read again before then.
   */
  private readonly incomplete = new Map<string, number>()

  constructor (private readonly opts: RelayOptions) {}

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.running = this.loop()
  }

  /**
   * Stops the loop. Waits for the pass in progress at most budgetMs: a pass blocked on Kafka's retries publishes
   * nothing a later relay will not, so shutdown does not wait for it (the publisher's close cuts it off).
   */
  async stop (budgetMs = 3000): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.wake?.()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.running, new Promise((resolve) => { timer = setTimeout(resolve, budgetMs) })])
    clearTimeout(timer)
  }

  /**
   * One pass: publishes what has been pending longer than the grace period, oldest first, and refreshes the
   * outbox gauge. Returns whether a batch came back full (more is waiting), and stops early when Kafka is down.
   */
  async pass (): Promise<{ published: number, more: boolean }> {
    const { runWrite, publisher, graceMs, metrics: { mongoDuration, outboxPending } } = this.opts
    const batchSize = this.opts.batchSize ?? 200
    const journalBatchSize = this.opts.journalBatchSize ?? 20
    // The grace period leaves a write's own inline publish time to land. While Kafka is known to be down no inline
    // publish is being made (writes skip the queue), so everything unpublished is the relay's at once: the cache
    // converges within one relay interval of Kafka answering again, not a grace period later.
    const cutoff = new Date(Date.now() - (publisher.healthy ? graceMs : 0))
    // One query per type serves both the gauge and the work: oldest mark first, so the overdue ones come first.
    let pending = 0
    const scans: Array<{ type: EntityType, docs: EntityDoc[] }> = []
    for (const type of TYPES) {
      const docs = await timed(mongoDuration, 'outbox_scan', async () => await runWrite((db) => pendingDocs(db, type, batchSize)))
      pending += docs.length < batchSize ? docs.length : await runWrite((db) => countPending(db, type))
      scans.push({ type, docs })
    }
    pending += await runWrite(countJournaled)
    outboxPending.set(pending)

    let published = 0
    let more = false
    // The journal first: it leaves marked documents to the marks loop below. The other way round, a marked document
    // published and cleared just before the journal reads it would go out a second time.
    let settled = 0
    let worked = 0
    const now = Date.now()
    for (const [id, until] of this.incomplete) if (until <= now) this.incomplete.delete(id)
    // Pages past the entries left alone (incomplete ones waiting for abandonMs, ones being released), so however many
    // of them there are, they never hold back a newer entry: up to journalBatchSize entries are worked on per pass.
    let after: JournalPosition | undefined
    let full = true
    while (worked < journalBatchSize && full) {
      const page = await timed(mongoDuration, 'journal_scan', async () => await runWrite((db) => overdueEntries(db, cutoff, journalBatchSize, after)))
      full = page.length === journalBatchSize
      after = page.at(-1)
      for (const entry of page) {
        if (publisher.releasing(entry._id) || this.incomplete.has(entry._id.toHexString())) continue
        if (worked === journalBatchSize) break
        worked++
        const outcome = await this.republish(entry)
        published += outcome.published
        if (outcome.settled) settled++
        if (!outcome.ok) return { published, more: false } // Kafka is down: the next pass tries again
      }
    }
    // A full batch of entries means more may be waiting, unless none of it could be settled yet (documents still
    // landing): then the next interval looks again rather than reading the same entries in a loop.
    if (worked === journalBatchSize && full && settled > 0) more = true
    for (const { type, docs } of scans) {
      const overdue = docs.filter((doc) => doc.pending_since !== undefined && doc.pending_since <= cutoff)
      // Read again right before publishing: the scan is from before the journal's work above, and a newer version
      // published inline meanwhile must not be followed on the topic by the older state the scan saw.
      const current = await this.current(type, overdue)
      // A version this process already has on Kafka is only waiting for its mark to be cleared: sending it again would
      // just add to the work when clearing falls behind.
      const due = current.filter((doc) => !publisher.awaitsClear(type, doc._id, doc.version))
      // A full batch means more may be waiting, unless it is all waiting for clears: then the next interval looks again.
      if (overdue.length === batchSize && due.length > 0) more = true
      // Queued together, with no await in between: a newer event this process queues for one of these documents
      // after the scan is queued after ours, and one queued before it makes the publisher fold ours into it.
      const outcomes = await Promise.all(due.map(async (doc) => await publisher.publish(eventOf(type, doc, doc.pending_since), 'relay')))
      published += outcomes.filter(Boolean).length
      if (outcomes.includes(false)) return { published, more: false }
    }
    return { published, more }
  }

  /**
   * Publishes an open journal entry's documents again; the publisher deletes the entry once all are acknowledged.
   * A document carrying a pending mark is left to the marks' scan (a newer change of it is unpublished, and that scan
   * publishes its current state). While some of its documents are missing and the entry is younger than abandonMs,
   * the landed ones are published but the entry stays, unread until then (see `incomplete`). Returns false in ok when
   * Kafka refused, and settled false when the entry must wait.
   */
  private async republish (doc: JournalDoc): Promise<{ published: number, ok: boolean, settled: boolean }> {
    const { publisher } = this.opts
    const type = ENTITY_TYPE[doc.collection]
    const read = await this.read(type, entryIds(doc))
    const found = read.filter((d): d is EntityDoc => d !== null)
    const missing = read.length - found.length
    const giveUpAt = doc.since.getTime() + (this.opts.abandonMs ?? 5 * 60_000)
    // A reaction batch's posts existed before it: one missing was never there, and nothing of it is still landing.
    const complete = missing === 0 || doc.changed !== undefined || giveUpAt <= Date.now()
    const due = found.filter((d) => d.pending !== true)
    const entry: JournalEntry = complete ? { id: doc._id, unacked: due.length } : { id: doc._id, unacked: due.length, keep: true }
    const outcomes = await Promise.all(due.map(async (d) => await publisher.publish(eventOf(type, d, doc.since), 'relay', entry, writeOf(doc, d))))
    const ok = !outcomes.includes(false)
    if (complete && due.length === 0) publisher.release(doc._id)
    // Only once what landed is on Kafka: after a refusal the next pass tries the entry again.
    if (!complete && ok) this.incomplete.set(doc._id.toHexString(), giveUpAt)
    return { published: outcomes.filter(Boolean).length, ok, settled: complete }
  }

  /** The documents as they are now, those still marked. */
  private async current (type: EntityType, docs: EntityDoc[]): Promise<EntityDoc[]> {
    return (await this.read(type, docs.map((doc) => doc._id))).filter((d): d is EntityDoc => d !== null && d.pending === true)
  }

  /** Documents by _id (equalities the store serves from its index), READ_CONCURRENCY at a time; null where missing. */
  private async read (type: EntityType, ids: number[]): Promise<Array<EntityDoc | null>> {
    const docs: Array<EntityDoc | null> = []
    for (let i = 0; i < ids.length; i += READ_CONCURRENCY) {
      docs.push(...await this.opts.runWrite(async (db) => await Promise.all(ids.slice(i, i + READ_CONCURRENCY).map(async (id) =>
        await entities(db, type).findOne({ _id: id })))))
    }
    return docs
  }

  private async loop (): Promise<void> {
    while (!this.stopped) {
      let more = false
      try {
        ({ more } = await this.pass())
        await this.maybeSweep()
        if (this.failing) this.opts.log.info('relay: working again')
        this.failing = false
      } catch (err) {
        if (!isTransient(err)) {
          this.stopped = true
          this.opts.onFatal(err)
          return
        }
        if (!this.failing) this.opts.log.warn({ err }, 'relay: pass failed; retrying every interval')
        this.failing = true
      }
      if (!more && !this.stopped) await this.sleep(this.opts.intervalMs)
    }
  }

  private async maybeSweep (): Promise<void> {
    const { sweep, sweepEveryMs = 60_000, runWrite } = this.opts
    if (sweep === undefined || Date.now() - this.lastSweep < sweepEveryMs) return
    this.lastSweep = Date.now()
    await runWrite(sweep)
  }

  private async sleep (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve
      this.timer = setTimeout(resolve, ms)
    })
    this.wake = null
  }
}

/**
 * The trace of the write behind one of an entry's documents (whichever replica wrote it): a create's document carries
 * it, a reaction batch's entry records it per post.
 */
function writeOf (entry: JournalDoc, doc: EntityDoc): Context | undefined {
  const traceparent = entry.changed === undefined ? doc.traceparent : traceOfEntry(entry, doc._id)
  return traceparent === undefined ? undefined : remoteContext(traceparent)
}
