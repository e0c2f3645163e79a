// IDENTITY_MODE=lambda: each verdict is one synchronous InvokeCommand of the validator function, on AWS or on the
// local emulator (LAMBDA_ENDPOINT). Every failure to get a verdict becomes VerifierUnavailableError (503 upstream).
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import type { Verdict } from './validator.js'
import { VerifierUnavailableError, type Verifier } from './verifier.js'

export interface LambdaVerifierSettings {
  endpoint: string
  functionName: string
  region: string
  /** Bound on one whole invoke, connection and any retry included. */
  timeoutMs: number
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

export function isLoopback (endpoint: string): boolean {
  const host = new URL(endpoint).hostname
  return LOOPBACK.has(host) || host.startsWith('127.')
}

export function createLambdaVerifier (settings: LambdaVerifierSettings): Verifier {
  const { endpoint, functionName, region, timeoutMs } = settings
  const local = isLoopback(endpoint)
  /* c8 ignore start -- the non-loopback branches below are taken only against AWS, which tests never reach */
  const client = new LambdaClient({
    region,
    endpoint,
    // The emulator ignores credentials; static dummies keep the SDK from walking the credential chain (and from
    // probing the instance-metadata address over the network) for a call that never leaves the machine.
    ...(local ? { credentials: { accessKeyId: 'local-emulator', secretAccessKey: 'local-emulator' } } : {}),
    // Against AWS one quick retry absorbs a throttle or a dropped connection; the abort signal below still bounds
    // the total. Locally a refused connection means the emulator is down: retrying would only delay the 503.
    maxAttempts: local ? 1 : 2,
    requestHandler: {
      connectionTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      throwOnRequestTimeout: true,
      httpAgent: { keepAlive: true, maxSockets: 64 },
      httpsAgent: { keepAlive: true, maxSockets: 64 }
    }
  })
  /* c8 ignore stop */

  return {
    kind: 'lambda',
    async verify (token) {
      const payload = new TextEncoder().encode(JSON.stringify({ token }))
      let out
      try {
        out = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: payload }),
          { abortSignal: AbortSignal.timeout(timeoutMs) })
      } catch (err) {
        // Only name and message: SDK errors can hold the request, and with it the token.
        const e = err as Error & { $metadata?: { httpStatusCode?: number } }
        const status = e.$metadata?.httpStatusCode
        const reason = e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `no answer within ${timeoutMs} ms`
          : `${e.name}: ${e.message}${status === undefined ? '' : ` (HTTP ${status})`}`
        throw new VerifierUnavailableError(`identity invoke failed: ${reason}`)
      }
      return parseInvokeResult(out.FunctionError, out.Payload)
    },
    async close () { client.destroy() }
  }
}

/**
 * Reads a verdict out of an invoke result. AWS flags a function error with the FunctionError field; the emulator
 * never sets it and answers 200 with the error document (or, on a timeout, plain text) instead, so the payload itself
 * must prove it is a verdict.
 */
export function parseInvokeResult (functionError: string | undefined, payload: Uint8Array | undefined): Verdict {
  const text = payload === undefined ? '' : new TextDecoder().decode(payload)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new VerifierUnavailableError(`validator answered something that is not JSON: ${text.slice(0, 80)}`)
  }
  const errorType = typeof doc === 'object' && doc !== null && 'errorType' in doc ? String(doc.errorType) : undefined
  if (functionError !== undefined || errorType !== undefined) {
    throw new VerifierUnavailableError(`validator function failed: ${String(errorType ?? functionError)}`)
  }
  if (!isVerdict(doc)) throw new VerifierUnavailableError('validator answered JSON that is not a verdict')
  return doc
}

function isVerdict (doc: unknown): doc is Verdict {
  if (typeof doc !== 'object' || doc === null) return false
  const v = doc as Record<string, unknown>
  const stringOrNull = (x: unknown): boolean => x === null || typeof x === 'string'
  if (typeof v.valid !== 'boolean' || !stringOrNull(v.subject) || !stringOrNull(v.reason)) return false
  if (v.expires_at !== null && typeof v.expires_at !== 'number') return false
  // A positive verdict must say who and until when: the cache bounds itself by expires_at.
  return !v.valid || (typeof v.subject === 'string' && v.subject !== '' && typeof v.expires_at === 'number')
}
