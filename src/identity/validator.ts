// The identity validator's logic, shared by the Lambda handler and IDENTITY_MODE=local: verifies a JWT and returns a
// verdict. Never throws for a bad token: every rejection is { valid: false, reason }. It throws only when it cannot
// decide (the JWKS cannot be fetched): that is an outage for the caller (503), not a verdict on the token (401).
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose'

export interface Verdict {
  valid: boolean
  subject: string | null
  expires_at: number | null // epoch seconds
  reason: string | null
}

export interface ValidatorSettings {
  secret?: string
  issuer: string
  audience: string
  jwksUrl?: string
  algorithms?: string[]
  /** Bound on one JWKS fetch; keep it under the server's IDENTITY_TIMEOUT_MS so a slow key source is a clean 503. */
  jwksTimeoutMs?: number
}

/** The key source could not be read, so no verdict is possible. */
export class KeySourceUnavailableError extends Error {
  override name = 'KeySourceUnavailable'
}

// Failures of the JWKS that say something about the token (its kid or alg matches no key) stay verdicts.
const TOKEN_FAULTS = [errors.JWKSNoMatchingKey, errors.JWKSMultipleMatchingKeys, errors.JOSENotSupported, errors.JOSEAlgNotAllowed]

const MAX_TOKEN_LENGTH = 8192

export function createValidator (settings: ValidatorSettings): (token: unknown) => Promise<Verdict> {
  const jwks: JWTVerifyGetKey | undefined = settings.jwksUrl !== undefined && settings.jwksUrl !== ''
    ? keySource(createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: settings.jwksTimeoutMs ?? 1500 }))
    : undefined
  // An empty or short HMAC key would let anyone who guesses it mint tokens: refuse to build such a validator.
  if (jwks === undefined && (settings.secret === undefined || settings.secret.length < 32)) {
    throw new Error('validator: a TOKEN_SECRET of at least 32 characters, or a TOKEN_JWKS_URL, is required')
  }
  const secret = jwks === undefined ? new TextEncoder().encode(settings.secret) : undefined
  // The accepted algorithms are fixed by configuration, never by the token's header: that is what stops
  // alg "none" and HS/RS confusion.
  const algorithms = settings.algorithms ?? (jwks === undefined ? ['HS256'] : ['RS256', 'ES256'])

  return async (token) => {
    if (typeof token !== 'string' || token === '') return reject('missing token')
    if (token.length > MAX_TOKEN_LENGTH) return reject('token too long')
    try {
      const opts = { issuer: settings.issuer, audience: settings.audience, algorithms, requiredClaims: ['sub', 'exp'] }
      const { payload } = jwks !== undefined
        ? await jwtVerify(token, jwks, opts)
        : await jwtVerify(token, secret!, opts)
      // An empty subject would authorise "nobody" yet still pass a truthiness-free equality check downstream.
      if (payload.sub === undefined || payload.sub === '') return reject('claim sub rejected: empty')
      // exp is a required claim (above), so it is always present here.
      return { valid: true, subject: payload.sub, expires_at: payload.exp!, reason: null }
    } catch (err) {
      if (err instanceof KeySourceUnavailableError) throw err
      return reject(reasonOf(err))
    }
  }
}

function keySource (jwks: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await jwks(header, token)
    } catch (err) {
      if (TOKEN_FAULTS.some((kind) => err instanceof kind)) throw err
      throw new KeySourceUnavailableError(`JWKS unavailable: ${(err as Error).message}`)
    }
  }
}

function reject (reason: string): Verdict {
  return { valid: false, subject: null, expires_at: null, reason }
}

function reasonOf (err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired'
  // jose's message names the failed check (unexpected "aud" claim value); its reason field is only a code.
  if (err instanceof errors.JWTClaimValidationFailed) return `claim ${err.claim} rejected: ${err.message}`
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed'
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature'
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed token'
  if (err instanceof errors.JWKSNoMatchingKey) return 'no matching key'
  if (err instanceof errors.JOSENotSupported) return 'unsupported token'
  /* c8 ignore next -- any other JOSE failure (a class a later jose adds); still a rejection, just a vaguer reason */
  return 'invalid token'
}
