// Clears the pending marks of published events in the background, coalesced: publishing never waits for MongoDB, and
// however many batches were acknowledged meanwhile, one clear (one update per entity type and chunk) takes them all.
// Only the newest published version of each entity is kept: clearing it is exactly what clearing each would leave.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { eventKey, type EntityEvent } from './event.js'

export type Published = Pick<EntityEvent, 'type' | 'id' | 'version'>

/** Entities per clear; more waiting goes in the next one, straight after. */
const MAX_CLEAR = 500
/**
 * Published versions held for clearing. Beyond it new ones are dropped: their marks stay, and the relay publishes them
 * again after its grace period (a duplicate, harmless), which bounds memory when MongoDB cannot keep up.
 */
const MAX_HELD = 50_000

export class MarkClearer {
  private readonly held = new Map<string, Published>()
  /** The batch being cleared right now. */
  private clearing = new Map<string, Published>()
  private running: Promise<void> | null = null
  private dropping = false

  constructor (
    private readonly clear: (events: Published[]) => Promise<void>,
    private readonly log: FastifyBaseLogger
  ) {}

  /** Queues the marks of acknowledged events for clearing; returns at once. */
  add (events: Published[]): void {
    for (const e of events) {
      const key = eventKey(e.type, e.id)
      const held = this.held.get(key)
      if (held !== undefined && held.version >= e.version) continue
      if (held === undefined && this.held.size >= MAX_HELD) {
        if (!this.dropping) this.log.warn(`outbox: ${MAX_HELD} published marks wait to be cleared; the relay will publish the rest again`)
        this.dropping = true
        continue
      }
      this.held.set(key, { type: e.type, id: e.id, version: e.version })
    }
    this.kick()
  }

  /** Whether this exact version was published and only its mark is still to be cleared (the relay need not resend it). */
  awaitsClear (type: Published['type'], id: number, version: number): boolean {
    const key = eventKey(type, id)
    return this.held.get(key)?.version === version || this.clearing.get(key)?.version === version
  }

  /** Resolves once everything held so far is cleared (or its clear failed). */
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
      for (const [key, e] of this.held) {
        this.clearing.set(key, e)
        this.held.delete(key)
        if (this.clearing.size >= MAX_CLEAR) break
      }
      if (this.held.size < MAX_HELD) this.dropping = false
      const started = performance.now()
      try {
        await this.clear([...this.clearing.values()])
      } catch (err) {
        // Left to the relay, all of it, rather than retried in a loop while MongoDB is away.
        this.log.warn({ err }, 'kafka: published, but could not clear the pending marks; the relay will publish those again')
        this.held.clear()
      } finally {
        this.clearing = new Map()
      }
      // Housekeeping must not starve the writes it follows: rest as long as the clear took before the next one (a few
      // milliseconds on MongoDB; on a store where each statement scans the collection, half of its time at most).
      if (this.held.size > 0) await sleep(performance.now() - started)
    }
  }
}
