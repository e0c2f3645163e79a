// The one TypeBox schema module: request bodies, params, queries and responses for users and posts. Validation,
// fast serialization and the OpenAPI document all come from these constants.
import { FormatRegistry, Type, type Static } from '@sinclair/typebox'

export const Id = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Positive integer id' })

export const User = Type.Object({
  user_id: Id,
  username: Type.String(),
  created_at: Type.String({ format: 'date-time' })
})
export type User = Static<typeof User>

export const Post = Type.Object({
  post_id: Id,
  user_id: Id,
  title: Type.String(),
  content: Type.String(),
  like_count: Type.Integer({ minimum: 0 }),
  dislike_count: Type.Integer({ minimum: 0 }),
  created_at: Type.String({ format: 'date-time' })
})
export type Post = Static<typeof Post>

export const MAX_CONTENT_BYTES = 64 * 1024

/**
 * A text field's form, so the schema (and the OpenAPI document) says what the write path refuses: at least one
 * non-space character and no U+0000 (src/write/strict-json.ts says why the store needs that). Leading spaces, the
 * first visible character, then any: one way to match each step, so it runs in linear time. Lone surrogates are
 * refused too, which a pattern cannot say portably (not every regex engine can hold one).
 */
const TEXT = '^\\s*[^\\s\\u0000][^\\u0000]*$'

export const CreateUserBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 50, pattern: TEXT, description: 'Unique, 1-50 characters' })
}, { additionalProperties: false })
export type CreateUserBody = Static<typeof CreateUserBody>

export const CreatePostBody = Type.Object({
  user_id: Id,
  title: Type.String({ minLength: 1, maxLength: 255, pattern: TEXT }),
  content: Type.String({ minLength: 1, maxLength: MAX_CONTENT_BYTES, pattern: TEXT })
}, { additionalProperties: false })
export type CreatePostBody = Static<typeof CreatePostBody>

export const PostParams = Type.Object({ id: Id }, { additionalProperties: false })

const MAX_PAGE = 100
export const ListPostsQuery = Type.Object({
  // Plain decimal digits from 1 to MAX_PAGE (100: one or two digits, or 100 itself), checked as written: as an integer,
  // Ajv's coercion took 0x10, 1e1, ' 5' and '05' for numbers. The route converts it.
  limit: Type.String({ pattern: `^(${MAX_PAGE}|[1-9][0-9]?)$`, default: '20', description: `Posts per page, 1 to ${MAX_PAGE}, in plain decimal digits` }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }))
}, { additionalProperties: false })
export type ListPostsQuery = Static<typeof ListPostsQuery>

export const PostPage = Type.Object({
  items: Type.Array(Post),
  next_cursor: Type.Optional(Type.String())
})
export type PostPage = Static<typeof PostPage>

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String()
})

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' }))
})

/** Error responses by status code, for route schemas (and so the OpenAPI document). */
export function errors (...codes: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(codes.map((c) => [c, ErrorBody]))
}

/**
 * Path ids for the read routes, checked as written: decimal digits only. Ajv's number coercion would otherwise take
 * '1e3', '0x10', ' 5' and even '1e400' (as Infinity) for integers. Fifteen digits keep every id a safe integer.
 */
export const ReadIdParams = Type.Object({
  id: Type.String({ pattern: '^[1-9][0-9]{0,14}$', description: 'Positive integer id, in decimal digits' })
}, { additionalProperties: false })

/**
 * GET by id's conditional headers. Min-Version is checked as written, like ids: digits only, no leading zero; sixteen
 * digits reach past the largest safe integer, which the route refuses too (conditional.ts's minVersionOf).
 */
export const ReadConditionalHeaders = Type.Object({
  'min-version': Type.Optional(Type.String({
    pattern: '^[1-9][0-9]{0,15}$',
    description: 'Answer this version of the entity or a newer one, never an older one (read-your-writes: pass the version ' +
      'from the ETag a write answered). A positive integer up to 9007199254740991; 412 when the store holds only an older version.'
  })),
  'if-none-match': Type.Optional(Type.String({
    description: 'ETags the client already holds (a list, or *): when one names the version that would be answered, the answer is 304 with no body.'
  }))
})

/** The entity tag every entity answer carries (reads by id, creates, reactions): `"p<id>-v<version>"` or `"u<id>-v<version>"`. */
export const ETagHeader = Type.String({
  description: 'Strong entity tag of the version answered, "p<id>-v<version>" for a post, "u<id>-v<version>" for a user; ' +
    'the same on every replica. Send it back as If-None-Match, or its version as Min-Version.'
})

/** /health/ready's answer: the roles' dependencies, probed now, and what the roles do without those that are down. */
export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable')], {
    description: 'ok: every dependency answers. degraded: one the role can run without is down (still 200). ' +
      'unavailable: one it needs is down (503)'
  }),
  roles: Type.Array(Type.String(), { description: 'The roles this process runs' }),
  // Maps written as additionalProperties (not Type.Record's patternProperties), as OpenAPI shows them.
  checks: Type.Object({}, {
    additionalProperties: Type.Union([Type.Literal('ok'), Type.Literal('down')]),
    description: 'Each dependency the roles use, probed now (1.5 s bound)'
  }),
  detail: Type.Optional(Type.Object({}, {
    additionalProperties: Type.String(),
    description: 'For each dependency that is down: what the roles do without it'
  }))
})

/** A 304: no body; the ETag names the version the client already holds. */
export const NotModified = Type.Null({ description: 'Not Modified: If-None-Match names the version that would be answered; no body' })

// TypeBox's own checker (Value.Check, used on Kafka events by parseEvent) fails every value whose format it does not
// know, so the 'date-time' these schemas use is registered here, beside them. Ajv (HTTP) has its own formats.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)))
}
