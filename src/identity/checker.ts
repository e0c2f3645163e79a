// Identity checks as the server makes them: the verdict cache first, then the verifier (one call per token at a
// time), each outcome counted by where the verdict came from.
import type { Config } from '../shared/config.js'
import type { Metrics } from '../shared/metrics.js'
import { createLambdaVerifier } from './lambda-verifier.js'
import { createLocalVerifier } from './local-verifier.js'
import type { Verdict } from './validator.js'
import { VerdictCache } from './verdict-cache.js'
import { validatorSettings, type Verifier } from './verifier.js'

export type IdentityMetrics = Pick<Metrics, 'identityVerdicts' | 'identityInvokeDuration'>

export class IdentityChecker {
  // Bound once: a cached verdict is counted on every read, so its series is not looked up per request.
  private readonly fromCache: Record<'valid' | 'invalid', { inc: () => void }>

  constructor (readonly verifier: Verifier, readonly cache: VerdictCache, private readonly metrics: IdentityMetrics) {
    const { identityVerdicts } = metrics
    this.fromCache = { valid: identityVerdicts.bind({ source: 'cache', result: 'valid' }), invalid: identityVerdicts.bind({ source: 'cache', result: 'invalid' }) }
  }

  /** The token's verdict; throws VerifierUnavailableError when none can be had. */
  async check (token: string): Promise<Verdict> {
    let result
    try {
      result = await this.cache.resolve(token, (t) => this.timedVerify(t))
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
  const { mode, lambdaEndpoint, functionName, region, timeoutMs, verdictCacheMaxSeconds, negativeVerdictSeconds } = config.identity
  const verifier = mode === 'local'
    ? createLocalVerifier(validatorSettings(config))
    : createLambdaVerifier({ endpoint: lambdaEndpoint, functionName, region, timeoutMs })
  return new IdentityChecker(verifier, new VerdictCache({ maxSeconds: verdictCacheMaxSeconds, negativeSeconds: negativeVerdictSeconds }), metrics)
}
