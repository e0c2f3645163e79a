// Publishes entity events to Kafka for the write role: one idempotent producer (acks from all in-sync replicas) fed by
// one queue, sent one batch at a time, so events leave in the order they were queued (per-key order within a process)
// and a burst of writes costs a few produce requests instead of one each. A failed or slow publish never fails a
// write: the document keeps its pending mark (or its create-journal entry stays) and the relay publishes it later.
// Longer than most files because the queue, its version folding and the producer's replacement after a failed send
// share one state (what is queued, in flight and connected); split apart they would each need all of it.
import kafkajs, { type Kafka, type Producer } from 'kafkajs'
import type { FastifyBaseLogger } from 'fastify'
import type { ObjectId } from 'mongodb'
import type { Metrics } from '../shared/metrics.js'
import { trimOldest } from '../shared/trim-oldest.js'
import { settle, type JournalEntry } from '../store/journal.js'
import { eventKey, type EntityEvent } from '../shared/event.js'
import { JournalReleaser } from './journal-releaser.js'
import { MarkClearer, type Published } from './mark-clearer.js'
import { ROOT_CONTEXT, trace as otel } from '@opentelemetry/api'
import { SpanKind, TRACEPARENT, TRACING_OFF, endSpan, startSpan, traceparentOf, type Context, type Span, type Tracing } from '../shared/tracing.js'

export type PublishPath = 'inline' | 'relay'

export interface PublisherOptions {
  kafka: Kafka
  metrics: Pick<Metrics, 'eventsPublished' | 'producerErrors'>
  topic: string
  log: FastifyBaseLogger
  /** Runs before the first send (and again after a failure, until it succeeds): create missing topics. */
  prepare: () => Promise<void>
  /**
   * Clears the pending marks of acknowledged events. Runs in the background (see MarkClearer), never in a request's or
   * the next batch's way; errors are logged, not thrown.
   */
  onPublished: (events: Published[]) => Promise<void>
  /** Deletes create-journal entries whose events are all acknowledged; in the background like onPublished. */
  onReleased: (entries: ObjectId[]) => Promise<void>
  /** How long a request waits for its event's acknowledgement before leaving it to the relay. */
  inlineTimeoutMs?: number
  /** Spans for each publish (off by default: the messages still carry their write's trace context). */
  tracing?: Tracing
}

/** `marked`: the event's document carries a pending mark to clear once it is acknowledged (a journaled create does not). */
interface Item { event: EntityEvent, path: PublishPath, marked: boolean, trace: Context | undefined, resolve: (ok: boolean) => void }

/** Events per produce request; a bigger backlog goes out in several. */
const MAX_BATCH = 500
/** Queued events beyond this are not queued at all: they stay pending for the relay instead of growing memory. */
const MAX_QUEUE = 10_000
/** How long close() waits for the queue to drain before disconnecting anyway. */
const CLOSE_BUDGET_MS = 5000
/** The consumer's session timeout (plugins/consumer.ts) and a margin for its rejoin. */
const RESUME_WINDOW_MS = 15_000
/** How long a producer gets to disconnect: kafkajs waits for requests in flight, which an outage can hold. */
const DISCONNECT_BUDGET_MS = 2000
/** Entities whose newest acknowledged version is remembered (least recently published out): see `acked`. */
const ACKED_KEYS = 10_000

export class Publisher {
  private readonly queue: Item[] = []
  /** Per key, the newest version queued or in flight and its outcome: a copy of it or of an older one just waits for it. */
  private readonly queued = new Map<string, { version: number, done: Promise<boolean> }>()
  /**
   * Per key, the newest version Kafka acknowledged from this process (the last ACKED_KEYS keys). A version no newer
   * is not sent again: a relay that read a document before a newer version went out inline would otherwise put the
   * older state on the topic after the newer one.
   */
  private readonly acked = new Map<string, number>()
  private producer: Producer | null = null
  private connecting: Promise<Producer> | null = null
  private prepared = false
  private draining: Promise<void> | null = null
  private down = false
  /** When a send last succeeded after an outage. */
  private upAgainAt = 0
  /** Whether this outage's first send failure was logged (a timeout may have marked Kafka down before it failed). */
  private failureLogged = false
  private closed = false
  /** Set once close() stops waiting: a connect still in progress then disconnects instead of serving. */
  private abandoned = false
  private readonly inlineTimeoutMs: number
  private readonly clearer: MarkClearer
  private readonly releaser: JournalReleaser
  private readonly tracing: Tracing

  constructor (private readonly opts: PublisherOptions) {
    this.inlineTimeoutMs = opts.inlineTimeoutMs ?? 1000
    this.tracing = opts.tracing ?? TRACING_OFF
    this.clearer = new MarkClearer(opts.onPublished, opts.log)
    this.releaser = new JournalReleaser(opts.onReleased, opts.log)
  }

  /** Whether this version is on Kafka and only its pending mark is still to be cleared: the relay need not send it. */
  awaitsClear (type: EntityEvent['type'], id: number, version: number): boolean {
    return this.clearer.awaitsClear(type, id, version)
  }

  /** Whether a journal entry's events are all on Kafka and only its delete is pending: the relay need not send them. */
  releasing (entry: ObjectId): boolean {
    return this.releaser.releasing(entry)
  }

  /** False from a failed or timed-out publish until the next acknowledged one: writes meanwhile skip Kafka. */
  get healthy (): boolean {
    return !this.down
  }

  /**
   * True while Kafka is down and for RESUME_WINDOW_MS after it is back: the time a consumer group may need to fetch
   * again after an outage (a restarted kafkajs consumer waits out its old membership's 10 s session).
   */
  get resuming (): boolean {
    return this.down || Date.now() - this.upAgainAt < RESUME_WINDOW_MS
  }

  /**
   * Queues an event; resolves true once Kafka acknowledged it (or a newer version of the same entity), false when it
   * was not published (Kafka down, closing, queue full). An older version queued while a newer one of the same entity is
   * queued or in flight waits for the newer one, which carries its change too; one arriving after the newer one was
   * acknowledged goes out and consumers drop it (version CAS). Inline events skip the queue while Kafka is known to be
   * down; the relay's always go, which makes the relay the probe that finds Kafka back.
   * A create's event comes with its id block's journal entry (and its document has no mark): the entry is counted
   * down when the event is acknowledged, and deleted in the background at zero. `trace` is the write's context: the
   * parent of an inline publish, and for the relay's the write the document or entry recorded, which the publish links to.
   */
  publish (event: EntityEvent, path: PublishPath, entry?: JournalEntry, trace?: Context): Promise<boolean> {
    // Whoever lets the entry's last hold go (an acknowledgement here, or its create block closing) releases it here.
    if (entry !== undefined) entry.release ??= this.releaseEntry
    if (this.closed || (path === 'inline' && this.down) || this.queue.length >= MAX_QUEUE) return Promise.resolve(false)
    const key = eventKey(event.type, event.id)
    const newer = this.queued.get(key)
    let done: Promise<boolean>
    if ((this.acked.get(key) ?? 0) >= event.version) {
      // On Kafka already, in this version or a newer one that carries it. A mark still on the document is cleared
      // only if the document is still at this version (see clearPublished), so clearing it is safe.
      if (entry === undefined) this.clearer.add([event])
      done = Promise.resolve(true)
    } else if (newer !== undefined && newer.version >= event.version) {
      done = newer.done
    } else {
      done = new Promise<boolean>((resolve) => { this.queue.push({ event, path, marked: entry === undefined, trace, resolve }) })
      this.queued.set(key, { version: event.version, done })
      this.kick()
    }
    // `done` never rejects (a failed send resolves false), so this chain needs no catch.
    if (entry !== undefined) done.then((ok) => { if (ok) settle(entry) }, undefined)
    return done
  }

  /** Deletes a journal entry in the background (nothing of it is left to publish). */
  release (entry: ObjectId): void {
    this.releaser.add([entry])
  }

  private readonly releaseEntry = (entry: ObjectId): void => { this.release(entry) }

  /** Waits for an inline publish at most inlineTimeoutMs. A timeout counts as Kafka being down (see healthy). */
  async settleInline (done: Promise<boolean>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), this.inlineTimeoutMs) })
    try {
      const outcome = await Promise.race([done, timeout])
      if (outcome !== 'timeout') return outcome
      if (!this.down) this.opts.log.warn(`kafka: no acknowledgement within ${this.inlineTimeoutMs} ms; writes leave their events to the relay until a publish succeeds`)
      this.down = true
      return false
    } finally {
      clearTimeout(timer)
    }
  }

  /** Connects (creating missing topics first). Failure is not fatal: the relay keeps trying. */
  async connect (): Promise<void> {
    await this.connected()
  }

  /**
   * Resolves once every mark of an acknowledged event so far has been cleared and every released journal entry
   * deleted (or their flush failed).
   */
  async cleared (): Promise<void> {
    await Promise.all([this.clearer.idle(), this.releaser.idle()])
  }

  /** Stops taking events, sends what is queued and clears their marks (within a budget), then disconnects. */
  async close (): Promise<void> {
    this.closed = true
    const drained = (this.draining ?? Promise.resolve()).then(async () => { await this.cleared() })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([drained, new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_BUDGET_MS) })])
    clearTimeout(timer)
    this.abandoned = true
    await this.dropProducer()
  }

  private kick (): void {
    if (this.draining !== null) return
    // Started after the current turn's promise jobs, so every event queued in it (a batch of creates answers all of
    // its requests in one loop, and each request then publishes its own event a few promise hops later) leaves in
    // the first produce request, rather than the first alone and the rest in a second one.
    this.draining = new Promise<void>((resolve) => { setImmediate(resolve) }).then(async () => { await this.drain() }).finally(() => {
      this.draining = null
      if (this.queue.length > 0) this.kick()
    })
  }

  private async drain (): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH)
      const ok = await this.send(batch)
      for (const { event, resolve } of batch) {
        const key = eventKey(event.type, event.id)
        if (this.queued.get(key)?.version === event.version) this.queued.delete(key)
        if (ok) this.remember(key, event.version)
        resolve(ok)
      }
      if (!ok) {
        // Kafka is down: fail the rest now rather than make each wait out its own retries. All of it is pending.
        for (const { event, resolve } of this.queue.splice(0)) {
          this.queued.delete(eventKey(event.type, event.id))
          resolve(false)
        }
        return
      }
      // Cleared in the background: the next batch (and every request waiting on it) never waits for MongoDB.
      this.clearer.add(batch.filter((item) => item.marked).map((item) => item.event))
    }
  }

  /** Records an acknowledged version, keeping the newest per key and the most recently published keys. */
  private remember (key: string, version: number): void {
    const known = this.acked.get(key)
    if (known !== undefined && known >= version) return
    this.acked.delete(key)
    this.acked.set(key, version)
    trimOldest(this.acked, ACKED_KEYS)
  }

  /**
   * Each message carries its trace context in a `traceparent` header: its publish span's when tracing is on (a child
   * of the write's span; a relayed event's links to the write's trace), else the write's own.
   */
  private message (item: Item): { message: { key: string, value: string, headers?: Record<string, string> }, span: Span | null } {
    const key = eventKey(item.event.type, item.event.id)
    const value = JSON.stringify(item.event)
    // A relayed event's write, as its journal entry names it (whichever replica made it): linked to, never a parent,
    // since the relay's publish is work of its own, maybe much later.
    const relayed = item.path === 'relay'
    const left = relayed && item.trace !== undefined ? otel.getSpanContext(item.trace) : undefined
    const parent = relayed ? ROOT_CONTEXT : item.trace ?? ROOT_CONTEXT
    if (!this.tracing.enabled) {
      // No spans: the write's own context travels on.
      const traceparent = traceparentOf(item.trace)
      return { message: traceparent === undefined ? { key, value } : { key, value, headers: { [TRACEPARENT]: traceparent } }, span: null }
    }
    const { span, ctx } = startSpan(this.tracing, `${this.opts.topic} publish`, parent, {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': this.opts.topic,
        'messaging.kafka.message.key': key,
        'postboard.publish.path': item.path
      },
      links: left === undefined ? [] : [{ context: left, attributes: { 'postboard.link': 'the write this event was left to the relay by' } }]
    })
    return { message: { key, value, headers: { [TRACEPARENT]: traceparentOf(ctx)! } }, span }
  }

  private async send (batch: Item[]): Promise<boolean> {
    const built = batch.map((item) => this.message(item))
    try {
      const producer = await this.connected()
      await producer.send({ topic: this.opts.topic, acks: -1, messages: built.map((b) => b.message) })
      for (const { span } of built) endSpan(span)
    } catch (err) {
      for (const { span } of built) endSpan(span, err)
      this.opts.metrics.producerErrors.inc()
      if (!this.failureLogged) this.opts.log.warn({ err }, 'kafka: publish failed; events stay pending and the relay publishes them once Kafka is back')
      this.failureLogged = true
      this.down = true
      // A new producer gets a new producer id: after a send that gave up, the broker may hold the batch under sequence
      // numbers kafkajs has rolled back, and would then drop the next batch as a duplicate of it.
      await this.dropProducer()
      return false
    }
    if (this.down) {
      this.opts.log.info('kafka: publishing again')
      this.upAgainAt = Date.now()
    }
    this.down = false
    this.failureLogged = false
    let relayed = 0
    for (const item of batch) if (item.path === 'relay') relayed++
    if (relayed > 0) this.opts.metrics.eventsPublished.inc({ path: 'relay' }, relayed)
    if (batch.length > relayed) this.opts.metrics.eventsPublished.inc({ path: 'inline' }, batch.length - relayed)
    return true
  }

  private async connected (): Promise<Producer> {
    if (this.producer !== null) return this.producer
    this.connecting ??= this.newProducer().finally(() => { this.connecting = null })
    return await this.connecting
  }

  private async newProducer (): Promise<Producer> {
    if (!this.prepared) {
      await this.opts.prepare()
      this.prepared = true
    }
    const producer = this.opts.kafka.producer({
      idempotent: true,
      // One request in flight per broker keeps batches, and so each key's events, in order across retries.
      maxInFlightRequests: 1,
      // Few, quick retries: a request waits for at most inlineTimeoutMs anyway, and a batch that gives up is not lost
      // (its documents stay pending). kafkajs warns that limiting an idempotent producer's retries can break
      // exactly-once; that is why a failed producer is replaced (see send), and consumers are idempotent by version.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner
    })
    try {
      await producer.connect()
    } catch (err) {
      await disconnect(producer)
      throw err
    }
    if (this.abandoned) {
      await disconnect(producer)
      throw new Error('publisher closed while connecting')
    }
    this.producer = producer
    return producer
  }

  private async dropProducer (): Promise<void> {
    const producer = this.producer
    this.producer = null
    if (producer !== null) await disconnect(producer)
  }
}

async function disconnect (producer: Producer): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    producer.disconnect().catch(() => {}),
    new Promise((resolve) => { timer = setTimeout(resolve, DISCONNECT_BUDGET_MS) })
  ])
  clearTimeout(timer)
}
