// Identity checks as the server makes them: what cannot be a token is refused on the spot, then the verdict cache, then
// the verifier (one call per token at a time, through the invoke gate's bounded fair queue), each outcome counted by
// where the verdict came from.
import type { Config } from '../shared/config.js'
import type { Metrics } from '../shared/metrics.js'
import { createLambdaVerifier } from './lambda-verifier.js'
import { InvokeGate } from './invoke-gate.js'
import { createLocalVerifier } from './local-verifier.js'
import { shapeRejection } from './token-shape.js'
import type { Verdict } from './validator.js'
import { VerdictCache } from './verdict-cache.js'
import { validatorSettings, type Verifier } from './verifier.js'

export type IdentityMetrics = Pick<Metrics, 'identityVerdicts' | 'identityInvokeDuration'>

export class IdentityChecker {
  // Bound once: a cached verdict is counted on every read, so its series is not looked up per request.
  private readonly fromCache: Record<'valid' | 'invalid', { inc: () => void }>

  constructor (readonly verifier: Verifier, readonly cache: VerdictCache, readonly gate: InvokeGate, private readonly metrics: IdentityMetrics) {
    const { identityVerdicts } = metrics
    this.fromCache = { valid: identityVerdicts.bind({ source: 'cache', result: 'valid' }), invalid: identityVerdicts.bind({ source: 'cache', result: 'invalid' }) }
  }

  /**
   * The token's verdict; throws VerifierUnavailableError when none can be had. `client` (the caller's address) picks
   * the queue a verification waits in, so one client's flood cannot hold back another client's tokens.
   */
  async check (token: string, client = ''): Promise<Verdict> {
    // Not cached: a flood of distinct garbage would otherwise push real verdicts out of the cache.
    const reason = shapeRejection(token, Math.floor(Date.now() / 1000))
    if (reason !== null) {
      this.metrics.identityVerdicts.inc({ source: 'shape', result: 'invalid' })
      return { valid: false, subject: null, expires_at: null, reason }
    }
    let result
    try {
      result = await this.cache.resolve(token, (t) => this.gate.run(client, () => this.timedVerify(t)))
    } catch (err) {
      this.metrics.identityVerdicts.inc({ source: 'invoke', result: 'unavailable' })
      throw err
    }
    this.metrics.identityVerdicts.inc({ source: result.source, result: result.verdict.valid ? 'valid' : 'invalid' })
    return result.verdict
  }

  /**
   * The cached verdict for a token's key (tokenKey), counted as a cache verdict, or undefined when only check() can
   * give one. The hook holds the key already (see plugins/identity.ts), so this takes the key, not the token.
   */
  cachedByKey (key: string): Verdict | undefined {
    const verdict = this.cache.get(key)
    if (verdict !== undefined) this.fromCache[verdict.valid ? 'valid' : 'invalid'].inc()
    return verdict
  }

  async close (): Promise<void> { await this.verifier.close() }

  private async timedVerify (token: string): Promise<Verdict> {
    const end = this.metrics.identityInvokeDuration.startTimer()
    try {
      return await this.verifier.verify(token)
    } finally {
      end()
    }
  }
}

/** The checker IDENTITY_MODE asks for (lambda or local); off has none. */
export function createChecker (config: Config, metrics: IdentityMetrics): IdentityChecker {
  const { mode, lambdaEndpoint, functionName, region, timeoutMs, verdictCacheMaxSeconds, negativeVerdictSeconds, maxInvokes, queuePerClient, queueMax } = config.identity
  const verifier = mode === 'local'
    ? createLocalVerifier(validatorSettings(config))
    : createLambdaVerifier({ endpoint: lambdaEndpoint, functionName, region, timeoutMs })
  // A turn not reached within the invoke timeout is an outage like an invoke that outlives it.
  const gate = new InvokeGate({ concurrency: maxInvokes, perClient: queuePerClient, total: queueMax, maxWaitMs: timeoutMs })
  return new IdentityChecker(verifier, new VerdictCache({ maxSeconds: verdictCacheMaxSeconds, negativeSeconds: negativeVerdictSeconds }), gate, metrics)
}
