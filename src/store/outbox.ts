// The outbox half of the store for changes: a document whose latest change is not yet on Kafka carries `pending: true`
// and pending_since (both set by the write itself; creates use the create journal instead, see journal.ts). These
// helpers turn a document into its event, find what is still pending, and clear a mark once exactly that version is
// published.
import type { Db } from 'mongodb'
import type { EntityEvent, EntityType } from '../shared/event.js'
import { toPost, toUser, type PostDoc, type UserDoc } from './collections.js'
import { docKey } from './doc-lock.js'
import type { StoreState } from './state.js'

export type EntityDoc = UserDoc | PostDoc

const COLLECTION = { user: 'users', post: 'posts' } as const satisfies Record<EntityType, string>

/** An entity type's collection. */
export const entities = (db: Db, type: EntityType) => db.collection<EntityDoc>(COLLECTION[type])

// An equality on a boolean, not a range on pending_since: FerretDB pushes a top-level equality down to PostgreSQL
// and fetches only the pending documents, where any range or $exists made it fetch and decode the whole collection
// every relay pass (0.3-0.6 s at a few thousand posts, growing with the collection). On MongoDB it is a tight scan
// of the {pending, pending_since} index (published documents are indexed under null, outside the equality).
const PENDING = { pending: true } as const

/** The event for a document's current state: full entity, its version, and when that version was written. */
function userEvent (doc: UserDoc, occurredAt = new Date()): EntityEvent {
  return { type: 'user', id: doc._id, version: doc.version, data: toUser(doc), occurred_at: occurredAt.toISOString() }
}

function postEvent (doc: PostDoc, occurredAt = new Date()): EntityEvent {
  return { type: 'post', id: doc._id, version: doc.version, data: toPost(doc), occurred_at: occurredAt.toISOString() }
}

export function eventOf (type: EntityType, doc: EntityDoc, occurredAt?: Date): EntityEvent {
  return type === 'user' ? userEvent(doc as UserDoc, occurredAt) : postEvent(doc as PostDoc, occurredAt)
}

/**
 * Clears the pending marks of published events, each only if its document is still at the published version: a change
 * that landed meanwhile keeps its mark (and is published on its own), so no relay or replica can clear a version
 * nobody published. One update statement per document, as many per round trip as the store takes (its
 * capabilities), each with a plain `{_id, version}` filter: MongoDB answers each from the _id index, and FerretDB
 * pushes such equality filters down to its backend (an $or or $in filter, by contrast, it matches in Go against every
 * document of the collection).
 * Returns how many marks were cleared.
 */
export async function clearPublished (store: StoreState, db: Db, events: Array<Pick<EntityEvent, 'type' | 'id' | 'version'>>): Promise<number> {
  let cleared = 0
  for (const type of ['user', 'post'] as const) {
    const mine = events.filter((e) => e.type === type)
    const perCommand = store.caps.updateStatementsPerCommand
    for (let i = 0; i < mine.length; i += perCommand) {
      const chunk = mine.slice(i, i + perCommand)
      // Locked per command, not per batch: a like of one of these waits for a few statements, not for the whole batch.
      cleared += await store.locks.withLocks(chunk.map((e) => docKey(db.databaseName, COLLECTION[type], e.id)), async () => {
        const res = await entities(db, type).bulkWrite(chunk.map((e) => ({
          updateOne: { filter: { _id: e.id, version: e.version }, update: { $unset: { pending: '', pending_since: '' } } }
        })), { ordered: false })
        return res.modifiedCount
      })
    }
  }
  return cleared
}

/** Pending documents, oldest mark first (so the overdue ones come first): what the relay looks at. */
export async function pendingDocs (db: Db, type: EntityType, limit: number): Promise<EntityDoc[]> {
  return await entities(db, type).find(PENDING).sort({ pending_since: 1 }).limit(limit).toArray()
}

/** How many documents of a type still wait for their latest version to be published. */
export async function countPending (db: Db, type: EntityType): Promise<number> {
  return await entities(db, type).countDocuments(PENDING)
}
