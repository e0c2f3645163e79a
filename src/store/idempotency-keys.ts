// Idempotency-Key records in MongoDB: claimed by insert (the unique _id decides a race between two replicas), answered
// from once done, and expired by a sweep (FerretDB v1 has no TTL indexes).
import type { Db } from 'mongodb'
import { IDEMPOTENCY_LEASE_MS as IN_FLIGHT_LEASE_MS } from '../shared/config.js'
import { idempotencyKeys, isDuplicateKey, type IdempotencyDoc, type PendingCreate } from './collections.js'

// An in-flight record older than the lease belongs to a request that died: every store call and a write's wait for its
// batch are bounded well below it (config.ts, Timeouts), so a request still running never holds a key that long.

export type Claim =
  | { kind: 'claimed', lockedAt: Date }
  | { kind: 'in_flight' }
  | { kind: 'mismatch' }
  | { kind: 'done', record: IdempotencyDoc }
  | { kind: 'unknown', record: IdempotencyDoc }

/** Claims a key for a request, or says why not: another request holds it, used it differently, or already answered. */
export async function claimKey (db: Db, id: string, fingerprint: string, ttlSeconds: number): Promise<Claim> {
  const col = idempotencyKeys(db)
  for (let attempt = 0; attempt < 3; attempt++) {
    const now = new Date()
    try {
      await col.insertOne({ _id: id, fingerprint, state: 'in_flight', locked_at: now, expires_at: new Date(now.getTime() + ttlSeconds * 1000) })
      return { kind: 'claimed', lockedAt: now }
    } catch (err) {
      if (!isDuplicateKey(err)) throw err
    }
    const existing = await col.findOne({ _id: id })
    /* c8 ignore next -- released between our insert and our read */
    if (existing === null) continue
    const abandoned = existing.state === 'in_flight' && now.getTime() - existing.locked_at.getTime() > IN_FLIGHT_LEASE_MS
    if (existing.expires_at <= now || abandoned) {
      // Only the record we judged: a claim made meanwhile by someone else has another locked_at and survives.
      await col.deleteOne({ _id: id, locked_at: existing.locked_at })
      continue
    }
    if (existing.fingerprint !== fingerprint) return { kind: 'mismatch' }
    if (existing.state === 'in_flight') return { kind: 'in_flight' }
    if (existing.state === 'unknown') return { kind: 'unknown', record: existing }
    return { kind: 'done', record: existing }
  }
  /* c8 ignore next -- three lost races in a row: someone else is working on this key */
  return { kind: 'in_flight' }
}

/** Stores the first response of a claimed key. */
export async function completeKey (db: Db, id: string, lockedAt: Date, response: Pick<IdempotencyDoc, 'status' | 'body' | 'etag' | 'error'>): Promise<void> {
  await idempotencyKeys(db).updateOne({ _id: id, locked_at: lockedAt }, { $set: { state: 'done', ...response } })
}

/**
 * Holds a claimed key whose write's outcome is unknown (the store lost its answer): never released, and never taken
 * as abandoned; a create's document as sent goes with it, for a retry to resolve the outcome.
 */
export async function holdUnknown (db: Db, id: string, lockedAt: Date, pending?: PendingCreate): Promise<void> {
  await idempotencyKeys(db).updateOne({ _id: id, locked_at: lockedAt }, { $set: { state: 'unknown', ...(pending !== undefined && { pending }) } })
}

/* c8 ignore next 4 -- called only when MongoDB (or a bug) fails a write after its key was claimed */
/** Gives a claimed key up (the request failed before its write was sent), so a retry runs afresh. */
export async function releaseKey (db: Db, id: string, lockedAt: Date): Promise<void> {
  await idempotencyKeys(db).deleteOne({ _id: id, locked_at: lockedAt })
}

/** Deletes expired records; returns how many. */
export async function sweepExpiredKeys (db: Db, now = new Date()): Promise<number> {
  return (await idempotencyKeys(db).deleteMany({ expires_at: { $lt: now } })).deletedCount
}
