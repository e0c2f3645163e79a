// Idempotency-Key on the write POSTs: a retried request with the same key gets the first response back and creates
// nothing; the same key on a different request is a 422, and on a request still running a 409. Keys are scoped to the
// caller (the token's subject under --auth-writes) and kept for config.idempotencyTtlSeconds. A write whose outcome
// is unknown (the store lost its answer) holds its key: a create's retry lands the very document first sent, once
// (src/store/outcome.ts); a reaction's retry is told the outcome is unknown and is not run again.
import { createHash } from 'node:crypto'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ClientGone, IdempotencyConflict, IdempotencyMismatch, IdempotencyOutcomeUnknown } from '../shared/errors.js'
import type { Metrics } from '../shared/metrics.js'
import { timed } from '../shared/timed.js'
import { claimKey, completeKey, holdUnknown, releaseKey } from '../store/idempotency-keys.js'
import type { IdempotencyDoc, PendingCreate } from '../store/collections.js'
import type { RunWrite } from '../store/connections.js'
import { isOutcomeUnknown } from '../store/outcome.js'

/** Set on a response answered from a stored result. */
export const REPLAYED_HEADER = 'idempotent-replayed'

/** A write's answer: the entity, and the ETag of the version the write produced (sent, and stored for replays). */
export interface Tagged<T> { body: T, etag: string }

export interface IdempotencyDeps {
  runWrite: RunWrite
  ttlSeconds: number
  metrics: Pick<Metrics, 'idempotentReplays' | 'mongoDuration'>
  /** Lands a create whose first insert went unconfirmed (exactly once), answering it as first created. */
  resume: (pending: PendingCreate) => Promise<Tagged<unknown>>
}

/** How long a key's bookkeeping after a failed write (holding it, releasing it) keeps trying, when the store refuses it. */
const HOLD_RETRY_MS = 1000
const HOLD_ATTEMPTS = 30

/**
 * Runs a write at most once per Idempotency-Key. Without the header it just runs. The result with its ETag (or a 4xx
 * it threw) is stored for replay. A failure before the write was sent (an outage, a 5xx) releases the key, since a
 * retry should then really try again; a failure after it was sent (outcome unknown) holds it (see resolveUnknown).
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
  if (claim.kind === 'unknown') return await resolveUnknown(deps, req, reply, status, id, claim.record) as T
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

  const store = storeFor(deps, req, id, claim.lockedAt)
  let result: Tagged<T>
  try {
    result = await run()
  } catch (err) {
    const code = (err as FastifyError).statusCode ?? 500
    // A write whose client left before it started never ran: released like an outage, so a retry really runs.
    if (code >= 400 && code < 500 && !(err instanceof ClientGone)) {
      await store(errorResponse(err, code))
    } else if (isOutcomeUnknown(err)) {
      await hold(deps, req, id, claim.lockedAt, err.pending)
    /* c8 ignore next 5 -- needs MongoDB (or a bug) to fail the write after the key was claimed */
    } else {
      await persist(req, 'release the key', 'a key could not be released; retries with it answer 409 until its lease ends',
        async () => await runWrite((db) => releaseKey(db, id, claim.lockedAt)))
    }
    throw err
  }
  await store({ status, body: result.body, etag: result.etag })
  reply.code(status).header('etag', result.etag)
  return result.body
}

type Response = Parameters<typeof completeKey>[3]

function storeFor (deps: IdempotencyDeps, req: FastifyRequest, id: string, lockedAt: Date): (response: Response) => Promise<void> {
  return async (response) => {
    try {
      await deps.runWrite((db) => completeKey(db, id, lockedAt, response))
    /* c8 ignore next 4 -- needs MongoDB to fail between the write and storing its response */
    } catch (err) {
      // The write itself stands; a retry within the lease gets a 409, after it runs again.
      req.log.error({ err }, 'idempotency: could not store the response')
    }
  }
}

function errorResponse (err: unknown, status: number): Response {
  return { status, error: { code: (err as FastifyError).code, message: (err as Error).message } }
}

/**
 * A retry of a write whose outcome is unknown. A create lands the document first sent, under its id: it is created
 * now or found already there, never twice, and the key then answers as for any other first result. A reaction cannot
 * be told from another one, so it is not run again: 409 saying the outcome is unknown, every time.
 */
async function resolveUnknown (deps: IdempotencyDeps, req: FastifyRequest, reply: FastifyReply, status: number, id: string,
  record: IdempotencyDoc): Promise<unknown> {
  if (record.pending === undefined) throw new IdempotencyOutcomeUnknown()
  const store = storeFor(deps, req, id, record.locked_at)
  let result: Tagged<unknown>
  try {
    result = await deps.resume(record.pending)
  } catch (err) {
    // A 4xx is this create's real outcome (its username was taken meanwhile); anything else leaves the key held.
    const code = (err as FastifyError).statusCode ?? 500
    if (code >= 400 && code < 500) await store(errorResponse(err, code))
    throw err
  }
  await store({ status, body: result.body, etag: result.etag })
  deps.metrics.idempotentReplays.inc()
  reply.code(status).header('etag', result.etag).header(REPLAYED_HEADER, 'true')
  return result.body
}

/**
 * Marks the key as held with an unknown outcome. The store that lost the write's answer may refuse this too, so it
 * keeps trying in the background for HOLD_ATTEMPTS seconds (less than the in-flight lease, after which an unmarked
 * key would count as abandoned); the request is answered meanwhile.
 */
async function hold (deps: IdempotencyDeps, req: FastifyRequest, id: string, lockedAt: Date, pending?: PendingCreate): Promise<void> {
  await persist(req, 'mark the key as held with an unknown outcome', 'a key whose write has an unknown outcome could not be held; once its lease ends a retry runs again',
    async () => await deps.runWrite((db) => holdUnknown(db, id, lockedAt, pending)))
}

/**
 * A key's bookkeeping after its write failed (holding it, or releasing it), which the store that just failed the
 * write may refuse too: tried now, then every HOLD_RETRY_MS in the background, HOLD_ATTEMPTS times, so a store back
 * within seconds does not leave the key claimed (retries answered 409) for the rest of its lease. Both writes are
 * conditional on this claim, so a late one never touches a newer claim.
 */
async function persist (req: FastifyRequest, what: string, givenUp: string, write: () => Promise<unknown>): Promise<void> {
  let failures = 0
  const attempt = async (): Promise<boolean> => {
    try {
      await write()
      return true
    /* c8 ignore next 5 -- needs MongoDB to refuse this too, right after it failed the write */
    } catch (err) {
      // Logged once, not every second.
      if (failures++ === 0) req.log.warn({ err }, `idempotency: could not ${what}; trying again`)
      return false
    }
  }
  if (await attempt()) return
  /* c8 ignore next 12 -- as above */
  let left = HOLD_ATTEMPTS
  const retry = (): void => {
    setTimeout(() => {
      attempt().then((ok) => {
        if (ok) return
        if (--left > 0) retry()
        else req.log.error(`idempotency: ${givenUp}`)
      }, /* c8 ignore next -- attempt catches everything */ () => {})
    }, HOLD_RETRY_MS).unref()
  }
  retry()
}

/** Same route, same parameters, same body (in any key order): the same request. */
function fingerprint (req: FastifyRequest): string {
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
