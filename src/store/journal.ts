// The journal: the outbox of creates and reactions. Creates take their ids from blocks reserved from the counter
// (id-blocks.ts); each block writes one entry naming its ids before any of them is handed out, and the entry is deleted
// once the block is closed and every inserted document's event is on Kafka (in bulk, coalesced, in the background). So
// a create costs no write of its own to the outbox and none to clear it: per block (a few per second under load), one
// insert and a share of one delete, where an entry per batch cost two more store round trips per batch, and a pending
// mark in each document one update per create to clear (on FerretDB an update is a query plus a write). Changes to
// existing documents (reactions) batch the same way (reaction-batcher.ts): one entry naming the batch's posts, written
// before their updates. Pending marks in documents (outbox.ts) are only what earlier releases wrote; the relay still
// publishes them.
// An entry outliving its grace period means a publish failed, timed out, or its replica stopped: the relay publishes
// the entry's documents again (consumers are idempotent by version) and then deletes it.
import { ObjectId, type Db } from 'mongodb'
import type { EntityType } from '../shared/event.js'
import type { EntityCollection } from './collections.js'

export interface JournalDoc {
  _id: ObjectId
  collection: EntityCollection
  /**
   * A create block's ids: first, first + 1, ..., first + count - 1 (reserved together, see reserveIds). Some may never
   * be handed out (a block that expired); the count is cut to those that were when the block closes.
   */
  first: number
  count: number
  /**
   * A reaction batch's posts instead (first and count then describe this list): documents that existed before the
   * batch, so one missing was never there (a like of an unknown post), where a create's may still be landing.
   */
  changed?: number[]
  /**
   * A reaction batch's W3C `traceparent` per post (in the order of `changed`; '' for none), so whichever replica's relay
   * publishes the batch links its publish to the write's trace. A create's is in its document (`traceparent`).
   */
  traces?: string[]
  /** When the batch was written: the relay's grace period runs from here. */
  since: Date
}

/**
 * One entry in memory: how many of its inserted documents still wait for Kafka's acknowledgement, plus one hold per
 * reason it must not go yet (a create block still handing out ids, a batch still inserting). The publisher counts it
 * down, and it is released (deleted) at zero, unless `keep` says documents it names may still land.
 */
export interface JournalEntry {
  readonly id: ObjectId
  unacked: number
  /**
   * Set by the relay for an entry whose missing documents may still land, and by a create batch whose insert went
   * unanswered: acknowledgements never release it; the relay does, after its grace period.
   */
  keep?: true
  /** How the entry is deleted at zero: the publisher's coalesced delete, set by the first publish that counts it. */
  release?: (id: ObjectId) => void
}

/** Counts one off an entry (an acknowledged event, a hold let go); at zero, unless kept, it is released. */
export function settle (entry: JournalEntry): void {
  entry.unacked--
  if (entry.unacked === 0 && entry.keep !== true) entry.release?.(entry.id)
}

export const ENTITY_TYPE = { users: 'user', posts: 'post' } as const satisfies Record<EntityCollection, EntityType>

export const journal = (db: Db) => db.collection<JournalDoc>('create_journal')

/** Writes a create block's entry; must land before any of its ids is inserted, so no document is outside the outbox. */
export async function openEntry (db: Db, collection: EntityCollection, first: number, count: number): Promise<ObjectId> {
  return await insertEntry(db, { collection, first, count })
}

/** Cuts a closed block's entry to the ids it handed out, so the relay does not wait for the rest to land. */
export async function shortenEntry (db: Db, id: ObjectId, count: number): Promise<void> {
  await journal(db).updateOne({ _id: id }, { $set: { count } })
}

/** Writes a reaction batch's entry; must land before the batch's updates, for the same reason. */
export async function openChangeEntry (db: Db, collection: EntityCollection, ids: number[], traces?: string[]): Promise<ObjectId> {
  return await insertEntry(db, { collection, first: ids[0]!, count: ids.length, changed: ids, ...withTraces(traces) })
}

/** Traces are kept only when some write had one. */
function withTraces (traces: string[] | undefined): { traces?: string[] } {
  return traces?.some((tp) => tp !== '') === true ? { traces } : {}
}

/** The `traceparent` of the write behind one of a reaction entry's posts, if it recorded one. */
export function traceOfEntry (entry: Pick<JournalDoc, 'changed' | 'traces'>, id: number): string | undefined {
  const i = entry.changed === undefined ? -1 : entry.changed.indexOf(id)
  const tp = i < 0 ? undefined : entry.traces?.[i]
  return tp === undefined || tp === '' ? undefined : tp
}

async function insertEntry (db: Db, entry: Omit<JournalDoc, '_id' | 'since'>): Promise<ObjectId> {
  const _id = new ObjectId()
  await journal(db).insertOne({ _id, ...entry, since: new Date() })
  return _id
}

/**
 * Deletes released entries. The journal only ever holds the batches in flight or waiting for the relay, so a filter
 * FerretDB matches in Go (an $in) reads a handful of documents, not a collection.
 */
export async function deleteEntries (db: Db, ids: ObjectId[]): Promise<number> {
  if (ids.length === 0) return 0
  return (await journal(db).deleteMany({ _id: { $in: ids } })).deletedCount
}

/** Where a page of overdue entries ended: the next page starts after it. */
export type JournalPosition = Pick<JournalDoc, '_id' | 'since'>

/**
 * Entries written before the cutoff, oldest first (ties by _id): what the relay publishes again. Given the last entry
 * of the previous page, the page after it, so the relay can read past entries it is leaving alone.
 */
export async function overdueEntries (db: Db, cutoff: Date, limit: number, after?: JournalPosition): Promise<JournalDoc[]> {
  const filter = after === undefined
    ? { since: { $lte: cutoff } }
    : { since: { $lte: cutoff }, $or: [{ since: { $gt: after.since } }, { since: after.since, _id: { $gt: after._id } }] }
  return await journal(db).find(filter).sort({ since: 1, _id: 1 }).limit(limit).toArray()
}

/** Entries summed exactly by countJournaled; beyond it the total is extrapolated (the journal only grows this long in an outage). */
const COUNT_EXACT = 10_000

/**
 * How many created documents the journal still holds (an upper bound: a batch's failed inserts are counted too), for
 * the relay's gauge every pass. Exact up to COUNT_EXACT entries; past that, the first COUNT_EXACT entries' mean size
 * times the collection's estimated count, so a journal grown through a long Kafka outage does not cost a full read
 * per pass.
 */
export async function countJournaled (db: Db, exact = COUNT_EXACT): Promise<number> {
  let total = 0
  let read = 0
  for await (const entry of journal(db).find({}, { projection: { count: 1 } }).limit(exact)) {
    total += entry.count
    read++
  }
  if (read < exact) return total
  return Math.round(total / read * await journal(db).estimatedDocumentCount())
}

export function entryIds (entry: Pick<JournalDoc, 'first' | 'count' | 'changed'>): number[] {
  if (entry.changed !== undefined) return entry.changed
  return Array.from({ length: entry.count }, (_, i) => entry.first + i)
}
