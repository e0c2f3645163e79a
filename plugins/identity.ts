// Identity: decorates `identity` (the verifier behind its verdict cache, and the onRequest hook a route scope adds to
// demand a token) and `request.identity` (the verified subject). IDENTITY_MODE picks Lambda, in-process, or off.
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { IdentityMode } from '../src/shared/config.js'
import { checksIdentity } from '../src/shared/roles.js'
import { Unauthorized, Unavailable } from '../src/shared/errors.js'
import { bearerToken, challenge } from '../src/identity/bearer.js'
import { createChecker, type IdentityChecker } from '../src/identity/checker.js'
import { tokenKey } from '../src/identity/verdict-cache.js'
import type { Verdict } from '../src/identity/validator.js'
import { VerifierUnavailableError } from '../src/identity/verifier.js'

export interface Identity {
  mode: IdentityMode
  /** The verifier with its cache; null when IDENTITY_MODE=off or when no role of this process checks identity. */
  checker: IdentityChecker | null
  /** onRequest hook: 401 without a valid token, 503 when no verdict can be had, else sets request.identity. */
  authenticate: (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
}

declare module 'fastify' {
  interface FastifyInstance { identity: Identity }
  interface FastifyRequest {
    /** The token's subject (a user id) once the identity hook has accepted it; null where no hook ran. */
    identity: string | null
  }
}

export default fp(async (app) => {
  const { identity: settings, roles, authWrites } = app.config
  // The role manifest says which roles check tokens (a writer only under --auth-writes); only those get a verifier.
  const checks = checksIdentity(roles, authWrites)
  const checker = settings.mode !== 'off' && checks ? createChecker(app.config, app.metrics) : null

  if (settings.mode === 'off' && checks) {
    app.log.warn('IDENTITY_MODE=off: requests are served WITHOUT any identity check. ' +
      'Use this only on a development machine; never expose this process.')
  }

  /** The request's identity from a verdict, or the 401 (with its challenge) for a refused token. */
  function admit (req: FastifyRequest, reply: FastifyReply, verdict: Verdict): Error | undefined {
    if (!verdict.valid) {
      /* c8 ignore next -- every refusal carries a reason; the fallback only keeps the challenge well-formed */
      const reason = verdict.reason ?? 'invalid token'
      reply.header('www-authenticate', challenge(reason))
      return new Unauthorized(`invalid token: ${reason}`)
    }
    req.identity = verdict.subject
    return undefined
  }

  /** Fail closed: no verdict is never a pass. */
  function noVerdict (req: FastifyRequest, err: unknown): Error {
    if (err instanceof VerifierUnavailableError) {
      req.log.warn({ reason: err.message }, 'identity: no verdict')
      return new Unavailable('the identity validator is unavailable; try again shortly')
    }
    /* c8 ignore next -- verifiers throw only VerifierUnavailableError; anything else is a bug, answered 500 (still closed) */
    return err instanceof Error ? err : new Error(String(err))
  }

  // Each connection remembers the last Authorization header it sent and that token's cache key. A keep-alive client
  // sends the same header on every request, and this spares each of them the header parse and the SHA-256 (together
  // ~3% of a cached read's CPU). The raw header lives only as long as its own connection and is replaced by the next
  // different one; the verdict cache itself still holds hashes only. Expiry is unaffected: the verdict is looked up
  // by key on every request.
  const lastHeader = new WeakMap<object, { header: string, key: string }>()

  // A callback hook, not an async one: a cached verdict (nearly every request) settles it at once, with no promise.
  function authenticate (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (settings.mode === 'off') return done()
    // Wired into a scope this process was not built to check: refuse (500) rather than pass.
    if (checker === null) return done(new Error('identity: the hook is used by a role that has no verifier'))
    const header = req.headers.authorization
    const socket = req.raw.socket
    const memo = lastHeader.get(socket)
    let key: string
    let token: string | null = null
    if (memo !== undefined && memo.header === header) {
      key = memo.key
    } else {
      token = bearerToken(header)
      if (token === null) {
        reply.header('www-authenticate', challenge())
        return done(new Unauthorized('a bearer token is required (Authorization: Bearer <token>)'))
      }
      key = tokenKey(token)
      lastHeader.set(socket, { header: header!, key })
    }
    const cached = checker.cachedByKey(key)
    if (cached !== undefined) return done(admit(req, reply, cached))
    // Parsed above unless the header was remembered; only a header that parsed is ever remembered, so it parses.
    token ??= bearerToken(header)!
    checker.check(token, req.ip).then((verdict) => admit(req, reply, verdict), (err: unknown) => noVerdict(req, err)).then(done, done)
  }

  app.decorate('identity', { mode: settings.mode, checker, authenticate } satisfies Identity)
  app.decorateRequest('identity', null)
  app.addHook('onClose', async () => { await checker?.close() })
}, { name: 'identity', dependencies: ['config', 'metrics'] })
