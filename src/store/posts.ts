// Post reads and writes against MongoDB.
import type { Db } from 'mongodb'
import { UnknownAuthor } from '../errors.js'
import type { CreatePostBody, Post } from '../schemas.js'
import { nextId, posts, toPost, type PostDoc } from './collections.js'
import { userExists } from './users.js'

export async function createPost (db: Db, body: CreatePostBody): Promise<Post> {
  if (!await userExists(db, body.user_id)) throw new UnknownAuthor(body.user_id)
  const doc: PostDoc = {
    _id: await nextId(db, 'posts'),
    user_id: body.user_id,
    title: body.title,
    content: body.content,
    like_count: 0,
    dislike_count: 0,
    created_at: new Date(),
    version: 1
  }
  await posts(db).insertOne(doc)
  return toPost(doc)
}

/** Atomically adds one like or dislike and returns the post after the change, or null when it does not exist. */
export async function react (db: Db, id: number, kind: 'like' | 'dislike'): Promise<Post | null> {
  const field = kind === 'like' ? 'like_count' : 'dislike_count'
  const doc = await posts(db).findOneAndUpdate(
    { _id: id },
    { $inc: { [field]: 1, version: 1 } },
    { returnDocument: 'after' }
  )
  return doc === null ? null : toPost(doc)
}

export async function findPost (db: Db, id: number): Promise<Post | null> {
  const doc = await posts(db).findOne({ _id: id })
  return doc === null ? null : toPost(doc)
}

/** Newest first, keyset-paged on the id (ids grow with creation), so a page costs the same at any depth. */
export async function listPosts (db: Db, limit: number, beforeId?: number): Promise<Post[]> {
  const filter = beforeId === undefined ? {} : { _id: { $lt: beforeId } }
  const docs = await posts(db).find(filter).sort({ _id: -1 }).limit(limit).toArray()
  return docs.map(toPost)
}
