// Housekeeping writes that follow publishing, done in the background and coalesced: publishing never waits for
// MongoDB, and however many batches were acknowledged meanwhile, one flush takes them all. Used to clear the pending
// marks of published changes (MarkClearer) and to delete released create-journal entries (JournalReleaser).
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'

/** Items per flush; more waiting goes in the next one, straight after. */
const MAX_FLUSH = 500
/**
 * Items held for flushing. Beyond it new ones are dropped: what they stand for stays in MongoDB, and the relay
 * publishes it again after its grace period (a duplicate, harmless), which bounds memory when MongoDB cannot keep up.
 */
const MAX_HELD = 50_000

export interface FlushOptions<T> {
  flush: (items: T[]) => Promise<void>
  log: FastifyBaseLogger
  /** Names the items in log lines ("published marks"). */
  what: string
  /** An item's identity: a newer item for the same key replaces a held one, unless `supersedes` says it is older. */
  key: (item: T) => string
  supersedes?: (held: T, incoming: T) => boolean
}

export class BackgroundFlush<T> {
  private readonly held = new Map<string, T>()
  /** The batch being flushed right now. */
  private flushing = new Map<string, T>()
  private running: Promise<void> | null = null
  private dropping = false

  constructor (private readonly opts: FlushOptions<T>) {}

  /** Queues items for flushing; returns at once. */
  add (items: Iterable<T>): void {
    const { key, supersedes, log, what } = this.opts
    for (const item of items) {
      const k = key(item)
      const held = this.held.get(k)
      if (held !== undefined && supersedes?.(held, item) === true) continue
      if (held === undefined && this.held.size >= MAX_HELD) {
        if (!this.dropping) log.warn(`outbox: ${MAX_HELD} ${what} wait to be flushed; the relay will publish the rest again`)
        this.dropping = true
        continue
      }
      this.held.set(k, item)
    }
    this.kick()
  }

  /** Whether an item held or being flushed under this key matches. */
  protected holds (key: string, match: (item: T) => boolean = () => true): boolean {
    const held = this.held.get(key)
    const flushing = this.flushing.get(key)
    return (held !== undefined && match(held)) || (flushing !== undefined && match(flushing))
  }

  /** Resolves once everything held so far is flushed (or its flush failed). */
  async idle (): Promise<void> {
    while (this.running !== null) await this.running
  }

  private kick (): void {
    if (this.running !== null || this.held.size === 0) return
    this.running = this.loop().finally(() => {
      this.running = null
      this.kick()
    })
  }

  private async loop (): Promise<void> {
    while (this.held.size > 0) {
      for (const [key, item] of this.held) {
        this.flushing.set(key, item)
        this.held.delete(key)
        if (this.flushing.size >= MAX_FLUSH) break
      }
      if (this.held.size < MAX_HELD) this.dropping = false
      const started = performance.now()
      try {
        await this.opts.flush([...this.flushing.values()])
      } catch (err) {
        // Left to the relay, all of it, rather than retried in a loop while MongoDB is away.
        this.opts.log.warn({ err }, `kafka: published, but could not flush the ${this.opts.what}; the relay will publish those again`)
        this.held.clear()
      } finally {
        this.flushing = new Map()
      }
      // Housekeeping must not starve the writes it follows: rest as long as the flush took before the next one (a few
      // milliseconds on MongoDB; on a store where each statement scans the collection, half of its time at most).
      if (this.held.size > 0) await sleep(performance.now() - started)
    }
  }
}
