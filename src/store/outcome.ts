// Writes whose outcome is unknown: the command was sent and its answer lost (the connection dropped, a failover), so
// the server may or may not have applied it. Such a failure is marked as one (WriteOutcomeUnknown, a 503) instead of
// passing as a plain outage, so an Idempotency-Key is held rather than released; a create carries the document it
// sent, which insertPending lands exactly once (src/write/idempotency.ts).
import { MongoNotConnectedError, MongoServerSelectionError, MongoTopologyClosedError, type Db } from 'mongodb'
import type { FastifyError } from 'fastify'
import { WriteOutcomeUnknown } from '../shared/errors.js'
import { isDuplicateKey, type PendingCreate, type PostDoc, type UserDoc } from './collections.js'
import { deleteEntries, openEntry, type JournalEntry } from './journal.js'

export interface OutcomeUnknown extends FastifyError {
  /** A create's document as sent; absent for a change (a like cannot be told from another one). */
  readonly pending?: PendingCreate
}

export function outcomeUnknown (cause: unknown, pending?: PendingCreate): OutcomeUnknown {
  return Object.assign(new WriteOutcomeUnknown(), { cause }, pending === undefined ? {} : { pending })
}

/** Whether a failed command may have reached the server: not when no server was chosen or the client was closed. */
export function mayHaveLanded (err: unknown): boolean {
  return !(err instanceof MongoServerSelectionError || err instanceof MongoNotConnectedError || err instanceof MongoTopologyClosedError)
}

export function isOutcomeUnknown (err: unknown): err is OutcomeUnknown {
  return err instanceof Error && (err as FastifyError).code === 'PB_OUTCOME_UNKNOWN'
}

/**
 * Lands a create whose first insert went unconfirmed: inserted again under the id it was given, with a journal entry
 * of its own written first (as a batch's is). A duplicate _id means the first insert landed: the document as it is now
 * is returned (with the entry, whose publish releases it). A duplicate of anything else (a username someone else took
 * meanwhile) is rethrown. Either way the document exists once.
 */
export async function insertPending (db: Db, pending: PendingCreate): Promise<{ doc: UserDoc | PostDoc, entry: JournalEntry }> {
  const { collection, doc } = pending
  const entryId = await openEntry(db, collection, doc._id, 1)
  try {
    await db.collection<UserDoc | PostDoc>(collection).insertOne(doc)
    return { doc, entry: { id: entryId, unacked: 1 } }
  } catch (err) {
    if (!isDuplicateKey(err)) throw outcomeUnknown(err, pending)
    const landed = await db.collection<UserDoc | PostDoc>(collection).findOne({ _id: doc._id })
    if (landed !== null) return { doc: landed, entry: { id: entryId, unacked: 1 } }
    await deleteEntries(db, [entryId]).catch(() => 0)
    throw err
  }
}
