// Development tokens: HS256 JWTs signed with TOKEN_SECRET, the same settings the validator checks.
import { SignJWT } from 'jose'

export interface TokenSettings { secret: string, issuer: string, audience: string }

const DURATION = /^(\d+)\s*(s|m|h|d)$/

/** Seconds in a duration such as 90s, 15m, 1h or 7d; throws on anything else. */
export function parseDuration (text: string): number {
  const m = DURATION.exec(text.trim())
  if (m === null) throw new Error(`--ttl: expected a duration such as 90s, 15m, 1h or 7d, got '${text}'`)
  const n = Number(m[1])
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd']
  if (n <= 0) throw new Error(`--ttl: must be longer than zero, got '${text}'`)
  return n * unit
}

export async function mintToken (settings: TokenSettings, subject: string, ttlSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(settings.secret))
}
