// The one seam between the server and whatever checks tokens: verify(token) → Verdict, over AWS Lambda or in-process.
import type { Config } from '../shared/config.js'
import type { Verdict } from './validator.js'

export interface Verifier {
  readonly kind: 'lambda' | 'local'
  /** A verdict on the token; throws VerifierUnavailableError when none can be had (the caller fails closed, 503). */
  verify: (token: string) => Promise<Verdict>
  close: () => Promise<void>
}

/**
 * No verdict: the validator is unreachable, timed out, failed, or answered something that is not a verdict.
 * The message is safe to log; it never carries the token or the request that held it.
 */
export class VerifierUnavailableError extends Error {
  override name = 'VerifierUnavailable'
}

/** The validator settings of this deployment, as the in-process verifier and the Lambda function both read them. */
export function validatorSettings (config: Config): { secret: string, issuer: string, audience: string, jwksTimeoutMs: number } {
  const { secret, issuer, audience } = config.token
  return { secret, issuer, audience, jwksTimeoutMs: Math.max(50, config.identity.timeoutMs - 250) }
}
