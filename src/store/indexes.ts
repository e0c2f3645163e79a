// The MongoDB indexes every role relies on, made sure of at boot; createIndex is a no-op when the index exists.
import type { Db } from 'mongodb'
import { idempotencyKeys, posts, users } from './collections.js'
import { journal } from './journal.js'

/**
 * Only plain and unique indexes: FerretDB v1 rejects TTL (expireAfterSeconds) and partial indexes
 * (msg_createindexes.go), so expiry is a sweep and the pending index also holds the (null) entries of published
 * documents. Both servers take these, so this is not a store capability.
 */
export async function ensureIndexes (db: Db): Promise<void> {
  await users(db).createIndex({ username: 1 }, { unique: true, name: 'username_unique' })
  await users(db).createIndex({ pending: 1, pending_since: 1 }, { name: 'pending' })
  await posts(db).createIndex({ pending: 1, pending_since: 1 }, { name: 'pending' })
  await idempotencyKeys(db).createIndex({ expires_at: 1 }, { name: 'expires_at' })
  await journal(db).createIndex({ since: 1 }, { name: 'since' })
}
