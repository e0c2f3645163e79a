// Clears the pending marks of published changes in the background, coalesced (see BackgroundFlush). Only the newest
// published version of each entity is kept: clearing it is exactly what clearing each would leave.
import type { FastifyBaseLogger } from 'fastify'
import { BackgroundFlush } from './background-flush.js'
import { eventKey, type EntityEvent } from '../shared/event.js'

export type Published = Pick<EntityEvent, 'type' | 'id' | 'version'>

export class MarkClearer extends BackgroundFlush<Published> {
  constructor (clear: (events: Published[]) => Promise<void>, log: FastifyBaseLogger) {
    super({
      flush: clear,
      log,
      what: 'published marks',
      key: (e) => eventKey(e.type, e.id),
      supersedes: (held, incoming) => held.version >= incoming.version
    })
  }

  /** Queues the marks of acknowledged events for clearing; returns at once. */
  override add (events: Published[]): void {
    super.add(events.map((e) => ({ type: e.type, id: e.id, version: e.version })))
  }

  /** Whether this exact version was published and only its mark is still to be cleared (the relay need not resend it). */
  awaitsClear (type: Published['type'], id: number, version: number): boolean {
    return this.holds(eventKey(type, id), (e) => e.version === version)
  }
}
