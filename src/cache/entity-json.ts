// The exact text a cache entry holds for an entity, and the check that lets a cached read send that text as the
// response body without parsing and re-serializing it (the hot path of GET by id).
//
// Every writer (read-through fill, consumer, write-through) stores entityJson(): the API entity's members in schema
// order, id first. The consumer re-orders an event's data through here too, so a producer that orders members
// differently (another version during a rolling deploy) still leaves the canonical text. A reader then only needs
// to confirm the text starts with this entity's own id member and is one JSON object; anything else was not written
// by this code and is read past (a miss, answered from MongoDB), as an unparseable entry always was.
import type { FastifyReply } from 'fastify'
import type { EntityType } from '../shared/event.js'
import type { Post, User } from '../shared/schemas.js'

/**
 * An entity's cache text with the version it is: a GET by id's body and the ETag it answers (src/shared/conditional.ts).
 * Kept together from Redis (one HMGET of v and d) through the near cache to the response.
 */
export interface EntityText { readonly json: string, readonly version: number }

export function postJson (p: Post): string {
  return JSON.stringify({
    post_id: p.post_id,
    user_id: p.user_id,
    title: p.title,
    content: p.content,
    like_count: p.like_count,
    dislike_count: p.dislike_count,
    created_at: p.created_at
  })
}

export function userJson (u: User): string {
  return JSON.stringify({ user_id: u.user_id, username: u.username, created_at: u.created_at })
}

/** A list page's body from its posts' texts, in the PostPage schema's member order. */
export function pageJson (items: string[], nextCursor: string | undefined): string {
  const next = nextCursor === undefined ? '' : `,"next_cursor":${JSON.stringify(nextCursor)}`
  return `{"items":[${items.join(',')}]${next}}`
}

export function entityJson (type: EntityType, data: Post | User): string {
  return type === 'post' ? postJson(data as Post) : userJson(data as User)
}

const ID_MEMBER = { post: '{"post_id":', user: '{"user_id":' } as const satisfies Record<EntityType, string>

/**
 * True when `text` is what entityJson wrote for this very entity: it opens with `{"<type>_id":<id>,` and closes the
 * object. A cheap structural check, not a parse: entries are only ever written by entityJson through the version CAS.
 */
export function isEntityJson (type: EntityType, id: number, text: string): boolean {
  const head = ID_MEMBER[type]
  if (!text.startsWith(head) || text.charCodeAt(text.length - 1) !== 125 /* } */) return false
  const idText = String(id)
  return text.startsWith(idText, head.length) && text.charCodeAt(head.length + idText.length) === 44 /* , */
}

/**
 * Sends JSON text assembled from cached entity texts as the response body. Fastify sends a string with a JSON content
 * type unchanged; the untyped reply is on purpose, since the route's typed reply would only accept parsed objects.
 */
export function sendJsonText (reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json)
}
