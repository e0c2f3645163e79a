// What cannot be a valid token, decided without the validator: a flood of garbage must not cost one Lambda invoke
// each. Only what the validator is certain to refuse too (jose's compact JWS and JWT claim checks, and validator.ts's
// own); anything else, however suspicious, goes to the validator. Refusing is always closed: this never admits.

const MAX_TOKEN_LENGTH = 8192 // validator.ts's bound
const SEGMENT = /^[A-Za-z0-9_-]*={0,2}$/

function jsonObject (segment: string): Record<string, unknown> | null {
  if (!SEGMENT.test(segment) || segment === '') return null
  try {
    const doc: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? doc as Record<string, unknown> : null
  } catch {
    return null
  }
}

/** Why the validator would refuse this token, or null when only the validator can tell. */
export function shapeRejection (token: string, nowSeconds: number): string | null {
  if (token.length > MAX_TOKEN_LENGTH) return 'token too long'
  const parts = token.split('.')
  if (parts.length !== 3) return 'malformed token'
  const header = jsonObject(parts[0]!)
  const claims = jsonObject(parts[1]!)
  if (header === null || claims === null || typeof header.alg !== 'string') return 'malformed token'
  // The accepted algorithms are the function's configuration (never none); an unsigned token is refused by any of them.
  if (header.alg === 'none' || parts[2] === '') return 'algorithm not allowed'
  if (typeof claims.exp !== 'number' || claims.sub === undefined || claims.sub === '') return 'malformed token'
  if (claims.exp <= nowSeconds) return 'token expired'
  return null
}
