// MongoDB document shapes and collection names, and the mapping from documents to API entities.
// Documents keep the integer id as _id (unique, indexed for free) and a version that grows on every change.
import type { Db } from 'mongodb'
import type { Post, User } from '../schemas.js'

export interface UserDoc {
  _id: number
  username: string
  created_at: Date
  version: number
}

export interface PostDoc {
  _id: number
  user_id: number
  title: string
  content: string
  like_count: number
  dislike_count: number
  created_at: Date
  version: number
}

export interface CounterDoc { _id: string, seq: number }

export const users = (db: Db) => db.collection<UserDoc>('users')
export const posts = (db: Db) => db.collection<PostDoc>('posts')
export const counters = (db: Db) => db.collection<CounterDoc>('counters')

export function toUser (doc: UserDoc): User {
  return { user_id: doc._id, username: doc.username, created_at: doc.created_at.toISOString() }
}

export function toPost (doc: PostDoc): Post {
  return {
    post_id: doc._id,
    user_id: doc.user_id,
    title: doc.title,
    content: doc.content,
    like_count: doc.like_count,
    dislike_count: doc.dislike_count,
    created_at: doc.created_at.toISOString()
  }
}

/** Indexes every role relies on; createIndex is a no-op when the index exists. */
export async function ensureIndexes (db: Db): Promise<void> {
  await users(db).createIndex({ username: 1 }, { unique: true, name: 'username_unique' })
}

/** Next integer id for a collection: one atomic $inc upsert, so ids are never reused, even across replicas. */
export async function nextId (db: Db, name: 'users' | 'posts'): Promise<number> {
  const doc = await counters(db).findOneAndUpdate(
    { _id: name },
    { $inc: { seq: 1 } },
    { upsert: true, returnDocument: 'after' }
  )
  if (doc === null) throw new Error(`counter ${name} did not return a value`)
  return doc.seq
}
