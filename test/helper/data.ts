// Data as the write path makes it: documents, their events and Kafka messages, the cached entry of an entity, and
// how much the write path has not published yet.
import type { Message } from 'kafkajs'
import type { Db } from 'mongodb'
import type { Redis } from 'ioredis'
import { eventKey, type EntityEvent } from '../../src/shared/event.js'
import { posts, toPost, toUser, users, type PostDoc, type UserDoc } from '../../src/store/collections.js'
import { countJournaled } from '../../src/store/journal.js'
import { entityKey, postIndexReady } from '../../src/cache/keys.js'
import { parseRunId } from '../../src/cache/instance.js'

export function userDoc (id: number, version = 1, username = `user-${id}`): UserDoc {
  return { _id: id, username, created_at: new Date(Date.UTC(2024, 0, 1, 0, 0, id % 60)), version }
}

/** A post at `version`: the write path starts at 1 and adds one per reaction, so likes = version - 1 here. */
export function postDoc (id: number, version = 1, userId = 1): PostDoc {
  return {
    _id: id,
    user_id: userId,
    title: `title ${id}`,
    content: `content of post ${id}`,
    like_count: version - 1,
    dislike_count: 0,
    created_at: new Date(Date.UTC(2024, 0, 1, 0, 0, id % 60)),
    version
  }
}

export async function insertPosts (db: Db, docs: PostDoc[]): Promise<void> {
  if (docs.length > 0) await posts(db).insertMany(docs)
}

export async function insertUsers (db: Db, docs: UserDoc[]): Promise<void> {
  if (docs.length > 0) await users(db).insertMany(docs)
}

export function eventOf (doc: PostDoc | UserDoc): EntityEvent {
  const occurred = new Date().toISOString()
  return 'title' in doc
    ? { type: 'post', id: doc._id, version: doc.version, data: toPost(doc), occurred_at: occurred }
    : { type: 'user', id: doc._id, version: doc.version, data: toUser(doc as UserDoc), occurred_at: occurred }
}

/** A Kafka message exactly as the write path publishes one: key = "<type>:<id>", value = the event JSON. */
export function messageOf (event: EntityEvent): Message {
  return { key: eventKey(event.type, event.id), value: JSON.stringify(event) }
}

/** The cached entry for an entity: { v, d } as stored, or null when there is none. */
export async function entryOf (redis: Redis, type: 'post' | 'user', id: number): Promise<{ v: number, d: string } | null> {
  const [v, d] = await redis.hmget(entityKey(type, id), 'v', 'd')
  return v == null || d == null ? null : { v: Number(v), d }
}

/**
 * Entities whose latest change is not on Kafka yet: documents with a pending mark (pending_since, so marks an earlier
 * version wrote count too) plus the creates the journal still holds.
 */
export async function unpublished (db: Db): Promise<number> {
  return await db.collection('posts').countDocuments({ pending_since: { $exists: true } }) +
    await db.collection('users').countDocuments({ pending_since: { $exists: true } }) +
    await countJournaled(db)
}

/** The post index's ready mark on the Redis instance this client is connected to (src/cache/keys.ts). */
export async function indexReadyMark (redis: Redis): Promise<string> {
  return postIndexReady(parseRunId(await redis.info('server')))
}
