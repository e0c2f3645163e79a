// User writes and lookups against MongoDB.
import type { Db } from 'mongodb'
import { UsernameTaken } from '../shared/errors.js'
import { isDuplicateKey, users, type UserDoc } from './collections.js'
import type { Created } from './create-batcher.js'
import type { StoreState } from './state.js'

/**
 * Creates a user at version 1, journaled with its id block (see journal.ts). A taken name is a 409, decided by the unique
 * index when two requests race for it.
 */
export async function createUser (store: StoreState, db: Db, username: string, signal?: AbortSignal, traceparent?: string): Promise<Created<UserDoc>> {
  // Checked first so a taken name costs no id; the unique index below is what actually decides a race.
  if (await users(db).countDocuments({ username }, { limit: 1 }) > 0) throw new UsernameTaken(username)
  const now = new Date()
  try {
    const created = await store.creates.insert<UserDoc>(db, 'users', (id) => ({ _id: id, username, created_at: now, version: 1 }), signal, traceparent)
    store.knownUsers.remember(db.databaseName, created.doc._id)
    return created
  } catch (err) {
    if (isDuplicateKey(err)) throw new UsernameTaken(username)
    throw err
  }
}

/**
 * Whether a user exists. Users are never deleted, so a yes is remembered (bounded, least recently used out) and a
 * post's author check costs no MongoDB read after the first; a no is never remembered, since the user may be created
 * the next moment. Concurrent checks of one unknown id share one read.
 */
export async function userExists (store: StoreState, db: Db, id: number): Promise<boolean> {
  return await store.knownUsers.check(db.databaseName, id, async () => (await users(db).countDocuments({ _id: id }, { limit: 1 })) > 0)
}
