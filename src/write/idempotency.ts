// Idempotency-Key on the write POSTs: a retried request with the same key gets the first response back and creates
// nothing; the same key on a different request is a 422, and on a request still running a 409. Keys are scoped to the
// caller (the token's subject under --auth-writes) and kept for config.idempotencyTtlSeconds.
import { createHash } from 'node:crypto'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ClientGone, IdempotencyConflict, IdempotencyMismatch } from '../shared/errors.js'
import type { Metrics } from '../shared/metrics.js'
import { timed } from '../shared/timed.js'
import { claimKey, completeKey, releaseKey } from '../store/idempotency-keys.js'
import type { RunWrite } from '../store/connections.js'

/** Set on a response answered from a stored result. */
export const REPLAYED_HEADER = 'idempotent-replayed'

/** A write's answer: the entity, and the ETag of the version the write produced (sent, and stored for replays). */
export interface Tagged<T> { body: T, etag: string }

export interface IdempotencyDeps {
  runWrite: RunWrite
  ttlSeconds: number
  metrics: Pick<Metrics, 'idempotentReplays' | 'mongoDuration'>
}

/**
 * Runs a write at most once per Idempotency-Key. Without the header it just runs. The result with its ETag (or a 4xx
 * it threw) is stored for replay; a 5xx or an outage releases the key, since a retry should then really try again.
 */
export async function idempotent<T> (deps: IdempotencyDeps, req: FastifyRequest, reply: FastifyReply, status: number,
  run: () => Promise<Tagged<T>>): Promise<T> {
  const key = req.headers['idempotency-key']
  if (typeof key !== 'string') {
    const { body, etag } = await run()
    reply.code(status).header('etag', etag)
    return body
  }
  const { runWrite, ttlSeconds, metrics } = deps
  // A space cannot occur in a key (the schema allows printable ASCII only), so scoped ids never collide.
  const id = req.identity == null ? key : `${req.identity} ${key}`
  const claim = await timed(metrics.mongoDuration, 'idempotency_claim', async () =>
    await runWrite((db) => claimKey(db, id, fingerprint(req), ttlSeconds)))

  if (claim.kind === 'mismatch') {
    throw new IdempotencyMismatch('this Idempotency-Key was already used for a different request; use a new key for a new request')
  }
  if (claim.kind === 'in_flight') {
    throw new IdempotencyConflict('a request with this Idempotency-Key is still in progress; retry once it has finished')
  }
  if (claim.kind === 'done') {
    const { record } = claim
    metrics.idempotentReplays.inc()
    reply.header(REPLAYED_HEADER, 'true')
    if (record.error !== undefined) throw replayedError(record.status ?? 400, record.error)
    reply.code(record.status ?? status)
    // A record stored before answers carried ETags has none to replay.
    if (record.etag !== undefined) reply.header('etag', record.etag)
    return record.body as T
  }

  const store = async (response: Parameters<typeof completeKey>[3]): Promise<void> => {
    try {
      await runWrite((db) => completeKey(db, id, claim.lockedAt, response))
    /* c8 ignore next 4 -- needs MongoDB to fail between the write and storing its response */
    } catch (err) {
      // The write itself stands; a retry within the lease gets a 409, after it runs again.
      req.log.error({ err }, 'idempotency: could not store the response')
    }
  }
  let result: Tagged<T>
  try {
    result = await run()
  } catch (err) {
    const code = (err as FastifyError).statusCode ?? 500
    // A write whose client left before it started never ran: released like an outage, so a retry really runs.
    if (code >= 400 && code < 500 && !(err instanceof ClientGone)) {
      await store({ status: code, error: { code: (err as FastifyError).code, message: (err as Error).message } })
    /* c8 ignore next 5 -- needs MongoDB (or a bug) to fail the write after the key was claimed */
    } else {
      await runWrite((db) => releaseKey(db, id, claim.lockedAt)).catch((releaseErr: unknown) => {
        req.log.error({ err: releaseErr }, 'idempotency: could not release the key')
      })
    }
    throw err
  }
  await store({ status, body: result.body, etag: result.etag })
  reply.code(status).header('etag', result.etag)
  return result.body
}

/** Same route, same parameters, same body (in any key order): the same request. */
export function fingerprint (req: FastifyRequest): string {
  return createHash('sha256')
    .update(canonicalJson([req.method, req.routeOptions.url ?? req.url, req.params ?? null, req.body ?? null]))
    .digest('base64url')
}

function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** The stored 4xx, rethrown so the one error handler answers it exactly as it did the first time. */
function replayedError (status: number, error: { code: string, message: string }): FastifyError {
  return Object.assign(new Error(error.message), { name: 'IdempotentReplay', code: error.code, statusCode: status })
}
