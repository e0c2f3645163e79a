// Post writes and lookups against MongoDB.
import type { Db } from 'mongodb'
import { UnknownAuthor } from '../shared/errors.js'
import type { CreatePostBody, Post } from '../shared/schemas.js'
import { posts, toPost, type PostDoc } from './collections.js'
import type { Created } from './create-batcher.js'
import type { StoreState } from './state.js'
import { userExists } from './users.js'

/** Creates a post at version 1, journaled with its id block (see journal.ts). */
export async function createPost (store: StoreState, db: Db, body: CreatePostBody, signal?: AbortSignal, traceparent?: string): Promise<Created<PostDoc>> {
  // Users are never deleted, so an author that exists now still exists when the insert lands.
  if (!await userExists(store, db, body.user_id)) throw new UnknownAuthor(body.user_id)
  const now = new Date()
  return await store.creates.insert<PostDoc>(db, 'posts', (id) => ({
    _id: id,
    user_id: body.user_id,
    title: body.title,
    content: body.content,
    like_count: 0,
    dislike_count: 0,
    created_at: now,
    version: 1
  }), signal, traceparent)
}

/** Newest first, keyset-paged on the id (ids grow with creation), so a page costs the same at any depth. */
export async function listPosts (db: Db, limit: number, beforeId?: number): Promise<Post[]> {
  const filter = beforeId === undefined ? {} : { _id: { $lt: beforeId } }
  const docs = await posts(db).find(filter).sort({ _id: -1 }).limit(limit).toArray()
  return docs.map(toPost)
}
