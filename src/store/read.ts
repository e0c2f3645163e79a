// Read-only MongoDB queries for the read path's cache: the entity together with its version (a cache fill needs both
// for the CAS), and a stream of every post id for rebuilding the list index.
import type { Db } from 'mongodb'
import type { Post, User } from '../shared/schemas.js'
import { posts, toPost, toUser, users } from './collections.js'

export interface Versioned<T> { data: T, version: number }

// findOne on _id, never $in: FerretDB answers an _id equality from its primary key but scans the collection for $in.
export async function findUserVersioned (db: Db, id: number): Promise<Versioned<User> | null> {
  const doc = await users(db).findOne({ _id: id })
  return doc === null ? null : { data: toUser(doc), version: doc.version }
}

export async function findPostVersioned (db: Db, id: number): Promise<Versioned<Post> | null> {
  const doc = await posts(db).findOne({ _id: id })
  return doc === null ? null : { data: toPost(doc), version: doc.version }
}

/** Every post id, unordered, fetched in batches (the caller orders them by putting them in a sorted set). */
export async function * allPostIds (db: Db, batchSize = 5000): AsyncGenerator<number> {
  const cursor = posts(db).find({}, { projection: { _id: 1 }, batchSize })
  try {
    for await (const doc of cursor) yield doc._id
  } finally {
    await cursor.close()
  }
}
