// Every coded error the API answers with, declared in one place. The error handler turns them into
// { statusCode, error, message } bodies.
import createError from '@fastify/error'

export const UsernameTaken = createError('PB_USERNAME_TAKEN', "username '%s' is already taken", 409)
export const UserNotFound = createError('PB_USER_NOT_FOUND', 'user %s does not exist', 404)
export const PostNotFound = createError('PB_POST_NOT_FOUND', 'post %s does not exist', 404)
export const UnknownAuthor = createError('PB_UNKNOWN_AUTHOR', 'user_id %s does not name an existing user', 422)
export const Unauthorized = createError('PB_UNAUTHORIZED', '%s', 401)
export const Forbidden = createError('PB_FORBIDDEN', '%s', 403)
export const Unavailable = createError('PB_UNAVAILABLE', '%s', 503)
// A document another replica holds past the lease wait (a single lease waited out, or a reaction deferred too long).
export const DocumentBusy = createError('PB_UNAVAILABLE', 'the document is being changed by another request; try again shortly', 503)
// A write whose answer the store lost (the connection dropped after the command was sent): it may or may not have been
// applied. With an Idempotency-Key, the key is held and a retry learns the outcome (src/write/idempotency.ts).
export const WriteOutcomeUnknown = createError('PB_OUTCOME_UNKNOWN', 'the data store did not confirm this write, so it may or may not have been applied; retry with the same Idempotency-Key to learn which (without one, a retry may apply it twice)', 503)
export const IdempotencyOutcomeUnknown = createError('PB_IDEMPOTENCY_OUTCOME_UNKNOWN', 'the data store lost the answer to the first request with this Idempotency-Key, so it may or may not have been applied; it is not run again (read the post to see whether it counted), and a new request needs a new key', 409)
// A write withdrawn before its batch started (src/write/write-signal.ts): it waited too long (503), or its client left
// (nobody reads that answer; 499, as proxies log it, keeps it out of the server-error log and off replayed records).
export const WriteQueueTimeout = createError('PB_UNAVAILABLE', 'the data store is unavailable; try again shortly', 503)
export const ClientGone = createError('PB_CLIENT_GONE', 'the client disconnected before the write started', 499)
export const IdempotencyConflict = createError('PB_IDEMPOTENCY_CONFLICT', '%s', 409)
export const IdempotencyMismatch = createError('PB_IDEMPOTENCY_MISMATCH', '%s', 422)
export const BadCursor = createError('PB_BAD_CURSOR', 'querystring/cursor is not a cursor this server issued', 400)
// Min-Version (src/shared/conditional.ts): past what a safe integer holds, and newer than any version the store has.
export const BadMinVersion = createError('PB_BAD_MIN_VERSION', `headers/min-version must be <= ${Number.MAX_SAFE_INTEGER}`, 400)
export const VersionNotStored = createError('PB_VERSION_NOT_STORED', '%s is at version %s; no stored version satisfies Min-Version %s', 412)
// Write path: a body the schema cannot express a rule for (UTF-8 size, a reaction's empty body), and a body that is
// not JSON at all (Fastify's own 415 does not say what it expected).
export const InvalidBody = createError('PB_INVALID_BODY', '%s', 400)
export const UnsupportedMediaType = createError('PB_UNSUPPORTED_MEDIA_TYPE', "the body must be application/json, got '%s'", 415)
