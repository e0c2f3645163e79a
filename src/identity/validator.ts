// The identity validator's logic, shared by the Lambda handler and IDENTITY_MODE=local: verifies a JWT and returns a
// verdict. Never throws for a bad token: every rejection is { valid: false, reason }.
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
}

const MAX_TOKEN_LENGTH = 8192

export function createValidator (settings: ValidatorSettings): (token: unknown) => Promise<Verdict> {
  const jwks: JWTVerifyGetKey | undefined = settings.jwksUrl !== undefined && settings.jwksUrl !== ''
    ? createRemoteJWKSet(new URL(settings.jwksUrl))
    : undefined
  const secret = jwks === undefined ? new TextEncoder().encode(settings.secret ?? '') : undefined
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
      return { valid: true, subject: String(payload.sub), expires_at: payload.exp ?? null, reason: null }
    } catch (err) {
      return reject(reasonOf(err))
    }
  }
}

function reject (reason: string): Verdict {
  return { valid: false, subject: null, expires_at: null, reason }
}

function reasonOf (err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired'
  if (err instanceof errors.JWTClaimValidationFailed) return `claim ${err.claim} rejected: ${err.reason}`
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed'
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature'
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed token'
  if (err instanceof errors.JWKSNoMatchingKey) return 'no matching key'
  if (err instanceof errors.JOSENotSupported) return 'unsupported token'
  return 'invalid token'
}
