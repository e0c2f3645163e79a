// MongoDB document shapes and collection names, the mapping from documents to API entities, and id allocation.
// Documents keep the integer id as _id (unique, indexed for free), a version that grows by one on every change, and,
// while a change's version is not yet on Kafka, a pending mark (FerretDB has no transactions, so the mark is set by
// the same single-document write that makes the change). Creates are covered by the create journal instead
// (journal.ts): a block's entry is written before any of its ids is inserted.
import { MongoServerError, type Db } from 'mongodb'
import type { Post, User } from '../shared/schemas.js'

export interface Versioned {
  version: number
  /** Set while the latest version is not yet published (the relay's filter: an equality FerretDB pushes down). */
  pending?: true
  /** Set with `pending`: when the oldest unpublished change happened. */
  pending_since?: Date
  /** The W3C traceparent of the request that created the document, if it came with one: the relay's link to it. */
  traceparent?: string
}

export interface UserDoc extends Versioned {
  _id: number
  username: string
  created_at: Date
}

export interface PostDoc extends Versioned {
  _id: number
  user_id: number
  title: string
  content: string
  like_count: number
  dislike_count: number
  created_at: Date
}

export interface CounterDoc { _id: string, seq: number }

/**
 * A create whose insert was sent but not confirmed: the collection and the document exactly as sent, id included.
 * Inserting it again either lands it or meets it already there (the unique _id decides), so it is created once.
 */
export interface PendingCreate { collection: EntityCollection, doc: UserDoc | PostDoc }

/**
 * One Idempotency-Key: the request it was first used for, and the response once there is one. `unknown`: the store
 * lost the write's answer; the key is held (never released) and `pending` says how to resolve a create's outcome.
 */
export interface IdempotencyDoc {
  _id: string
  fingerprint: string
  state: 'in_flight' | 'done' | 'unknown'
  pending?: PendingCreate
  locked_at: Date
  expires_at: Date
  /** The first response: its status, and the entity with its ETag for a success or the coded error for a 4xx. */
  status?: number
  body?: unknown
  etag?: string
  error?: { code: string, message: string }
}

export type EntityCollection = 'users' | 'posts'

export const users = (db: Db) => db.collection<UserDoc>('users')
export const posts = (db: Db) => db.collection<PostDoc>('posts')
export const counters = (db: Db) => db.collection<CounterDoc>('counters')
export const idempotencyKeys = (db: Db) => db.collection<IdempotencyDoc>('idempotency_keys')

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

const DUPLICATE_KEY = 11000

export function isDuplicateKey (err: unknown): err is MongoServerError {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY
}
