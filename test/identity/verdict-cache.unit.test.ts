// The verdict cache (expiry bounds, single flight, hashed keys, size bound), bearer parsing, and how an invoke result
// becomes a verdict or an outage (the emulator's error documents and plain-text timeouts included).
import t from 'tap'
import { VerdictCache, tokenKey } from '../../src/identity/verdict-cache.js'
import { bearerToken, challenge } from '../../src/identity/bearer.js'
import { isLoopback, parseInvokeResult } from '../../src/identity/lambda-verifier.js'
import { VerifierUnavailableError } from '../../src/identity/verifier.js'
import type { Verdict } from '../../src/identity/validator.js'

const valid = (sub: string, exp: number): Verdict => ({ valid: true, subject: sub, expires_at: exp, reason: null })
const invalid: Verdict = { valid: false, subject: null, expires_at: null, reason: 'bad signature' }

t.test('a positive verdict lives no longer than its token nor the cap', async (t) => {
  let now = 1_000_000_000_000
  const cache = new VerdictCache({ maxSeconds: 300, negativeSeconds: 5, now: () => now })
  const nowS = now / 1000
  t.equal(cache.expiry(valid('1', nowS + 60)), now + 60_000, 'token expires first: its expiry')
  t.equal(cache.expiry(valid('1', nowS + 3600)), now + 300_000, 'cap comes first: the cap')
  t.equal(cache.expiry(invalid), now + 5000, 'negative: negativeSeconds')
  t.equal(cache.expiry({ ...valid('1', 0), expires_at: null }), now, 'no expiry known: not cached')

  cache.set(tokenKey('a'), valid('1', nowS + 60))
  now += 59_999
  t.same(cache.get(tokenKey('a')), valid('1', nowS + 60), 'still cached just before the token expires')
  now += 1
  t.equal(cache.get(tokenKey('a')), undefined, 'gone when the token expires')

  cache.set(tokenKey('b'), invalid)
  now += 4999
  t.ok(cache.get(tokenKey('b')), 'negative verdict cached briefly')
  now += 1
  t.equal(cache.get(tokenKey('b')), undefined, 'and then forgotten')

  cache.set(tokenKey('c'), valid('1', now / 1000 - 1))
  t.equal(cache.get(tokenKey('c')), undefined, 'an already-expired positive verdict is never stored')
})

t.test('caps of 0 disable caching', async (t) => {
  const cache = new VerdictCache({ maxSeconds: 0, negativeSeconds: 0 })
  cache.set(tokenKey('a'), valid('1', Date.now() / 1000 + 600))
  cache.set(tokenKey('b'), invalid)
  t.equal(cache.size, 0)
})

t.test('entries are keyed by a hash; the raw token is not a key', async (t) => {
  const cache = new VerdictCache({ maxSeconds: 60, negativeSeconds: 5 })
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'
  const { source } = await cache.resolve(token, async () => valid('1', Date.now() / 1000 + 60))
  t.equal(source, 'invoke')
  t.equal(cache.get(token), undefined)
  t.ok(cache.get(tokenKey(token)))
  t.match(tokenKey(token), /^[A-Za-z0-9_-]{43}$/, 'SHA-256, base64url')
  t.equal((await cache.resolve(token, async () => { throw new Error('not called') })).source, 'cache')
})

t.test('single flight: 100 concurrent checks of one token make one load', async (t) => {
  const cache = new VerdictCache({ maxSeconds: 60, negativeSeconds: 5 })
  let loads = 0
  const load = async (): Promise<Verdict> => {
    loads++
    await new Promise((resolve) => setTimeout(resolve, 20))
    return valid('9', Date.now() / 1000 + 60)
  }
  const results = await Promise.all(Array.from({ length: 100 }, () => cache.resolve('tok', load)))
  t.equal(loads, 1)
  t.equal(results.filter((r) => r.source === 'invoke').length, 1)
  t.equal(results.filter((r) => r.source === 'shared').length, 99)
  t.ok(results.every((r) => r.verdict.subject === '9'))
})

t.test('a failed load is shared by its joiners and never cached', async (t) => {
  const cache = new VerdictCache({ maxSeconds: 60, negativeSeconds: 5 })
  let loads = 0
  const failing = async (): Promise<Verdict> => {
    loads++
    await new Promise((resolve) => setTimeout(resolve, 10))
    throw new VerifierUnavailableError('down')
  }
  const settled = await Promise.allSettled(Array.from({ length: 10 }, () => cache.resolve('tok', failing)))
  t.equal(loads, 1)
  t.ok(settled.every((s) => s.status === 'rejected' && s.reason instanceof VerifierUnavailableError))
  t.equal(cache.size, 0)
  const next = await cache.resolve('tok', async () => valid('1', Date.now() / 1000 + 60))
  t.equal(next.source, 'invoke', 'the next check asks again')
})

t.test('the cache is bounded; the oldest entries go first', async (t) => {
  const cache = new VerdictCache({ maxSeconds: 60, negativeSeconds: 60, maxEntries: 3 })
  for (const k of ['a', 'b', 'c', 'd']) cache.set(tokenKey(k), invalid)
  t.equal(cache.size, 3)
  t.equal(cache.get(tokenKey('a')), undefined)
  t.ok(cache.get(tokenKey('d')))
})

t.test('bearer tokens and challenges', async (t) => {
  t.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi')
  t.equal(bearerToken('bearer   abc-_~+/='), 'abc-_~+/=', 'scheme is case-insensitive')
  t.equal(bearerToken(undefined), null)
  t.equal(bearerToken('Basic dXNlcjpwYXNz'), null)
  t.equal(bearerToken('Bearer'), null)
  t.equal(bearerToken('Bearer a b'), null)
  t.equal(bearerToken('Bearer a"b'), null)
  t.equal(challenge(), 'Bearer realm="postboard"')
  t.equal(challenge('claim aud rejected: unexpected "aud" claim value'),
    'Bearer realm="postboard", error="invalid_token", error_description="claim aud rejected: unexpected \'aud\' claim value"')
})

t.test('invoke results: a verdict, or an outage', async (t) => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
  const verdict = valid('5', 2_000_000_000)
  t.same(parseInvokeResult(undefined, enc(JSON.stringify(verdict))), verdict)
  t.same(parseInvokeResult(undefined, enc(JSON.stringify(invalid))), invalid)
  const outages: Array<[string | undefined, Uint8Array | undefined, RegExp]> = [
    ['Unhandled', enc('{"errorType":"Error","errorMessage":"boom"}'), /function failed: Error/],
    // The emulator never sets FunctionError: the document alone must give the error away.
    [undefined, enc('{"errorType":"KeySourceUnavailable","errorMessage":"JWKS unavailable"}'), /function failed: KeySourceUnavailable/],
    [undefined, enc('{"errorType":"Runtime.ExitError","errorMessage":"RequestId: x Error: Runtime exited with error: exit status 1"}'), /Runtime.ExitError/],
    // The real emulator's timeout answer is plain text with status 200.
    [undefined, enc('Task timed out after 300.00 seconds'), /not JSON: Task timed out/],
    [undefined, undefined, /not JSON/],
    [undefined, enc('{"valid":"yes"}'), /not a verdict/],
    [undefined, enc('{"valid":true,"subject":"1","expires_at":null,"reason":null}'), /not a verdict/],
    [undefined, enc('{"valid":true,"subject":"","expires_at":2000000000,"reason":null}'), /not a verdict/],
    [undefined, enc('null'), /not a verdict/],
    [undefined, enc('"a string"'), /not a verdict/],
    ['Unhandled', enc('{}'), /function failed: Unhandled/],
    [undefined, enc('{"valid":true,"subject":"1","expires_at":"soon","reason":null}'), /not a verdict/]
  ]
  for (const [functionError, payload, message] of outages) {
    let thrown: unknown
    try {
      parseInvokeResult(functionError, payload)
    } catch (err) {
      thrown = err
    }
    t.ok(thrown instanceof VerifierUnavailableError, 'an outage, not a verdict')
    t.match((thrown as Error).message, message)
  }
})

t.test('dummy credentials only for a loopback endpoint (the local emulator)', async (t) => {
  for (const url of ['http://127.0.0.1:9001', 'http://127.0.5.1:9001', 'http://localhost:9001', 'http://[::1]:9001']) t.ok(isLoopback(url), url)
  for (const url of ['https://lambda.us-east-1.amazonaws.com', 'http://identity:8080', 'http://10.0.0.5:9001']) t.notOk(isLoopback(url), url)
})
