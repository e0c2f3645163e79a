// The validator in-process (IDENTITY_MODE=local's logic, and the Lambda function's): HS256 with the shared secret,
// RS256/ES256 against a JWKS served over real HTTP, every rejection a verdict with a reason, and an unreadable key
// source an outage (never a verdict).
import t from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose'
import { createValidator, KeySourceUnavailableError, type Verdict } from '../../src/identity/validator.js'
import { createLocalVerifier } from '../../src/identity/local-verifier.js'
import { VerifierUnavailableError } from '../../src/identity/verifier.js'
import { mintToken } from '../../src/identity/token.js'
import { spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { ROOT, type Tap } from '../helper/index.js'

const settings = { secret: 'a-test-secret-that-is-at-least-32-characters', issuer: 'postboard', audience: 'postboard-api' }
const now = (): number => Math.floor(Date.now() / 1000)
const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
// Signed by hand: jose refuses to sign some headers (an unknown crit) that a validator must still reject cleanly.
const hmac = (header: object, claims: object): string =>
  `${b64(header)}.${b64(claims)}.${createHmac('sha256', settings.secret).update(`${b64(header)}.${b64(claims)}`).digest('base64url')}`

async function hs (claims: JWTPayload, opts: { secret?: string, alg?: string } = {}): Promise<string> {
  const base = { sub: '7', iss: settings.issuer, aud: settings.audience, iat: now(), exp: now() + 600 }
  return await new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(opts.secret ?? settings.secret))
}

t.test('HS256: the minted token passes; everything else is a verdict with a reason', async (t) => {
  const validate = createValidator(settings)
  const good = await mintToken(settings, '7', 600)
  const ok = await validate(good)
  t.match(ok, { valid: true, subject: '7', reason: null })
  t.ok(ok.expires_at !== null && ok.expires_at > now() + 590 && ok.expires_at <= now() + 600, 'expires_at is the token\'s exp')

  const [header, payload] = good.split('.')
  const cases: Array<[string, unknown, RegExp]> = [
    ['expired', await hs({ exp: now() - 10 }), /^token expired$/],
    ['not yet valid', await hs({ nbf: now() + 600 }), /^claim nbf rejected/],
    ['forged signature (another secret)', await hs({}, { secret: 'someone-elses-secret-of-32-characters-or-more' }), /^bad signature$/],
    ['tampered payload', `${header}.${b64({ sub: '1', iss: 'postboard', aud: 'postboard-api', exp: now() + 600 })}.${good.split('.')[2]}`, /^bad signature$/],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, /^(algorithm not allowed|malformed token)$/],
    ['another HMAC algorithm', await hs({}, { alg: 'HS512' }), /^algorithm not allowed$/],
    ['wrong issuer', await hs({ iss: 'someone-else' }), /^claim iss rejected/],
    ['wrong audience', await hs({ aud: 'another-api' }), /^claim aud rejected/],
    ['no subject', await hs({ sub: undefined }), /^claim sub rejected/],
    ['empty subject', await hs({ sub: '' }), /^claim sub rejected/],
    ['no expiry', await hs({ exp: undefined }), /^claim exp rejected/],
    ['garbage', 'not-a-jwt', /^malformed token$/],
    ['three garbage parts', 'a.b.c', /^malformed token$/],
    ['empty', '', /^missing token$/],
    ['not a string', 42, /^missing token$/],
    ['too long', `${good}${'A'.repeat(9000)}`, /^token too long$/],
    ['an extension it must understand (crit)', hmac({ alg: 'HS256', crit: ['x-must'], 'x-must': 1 }, { sub: '7', iss: settings.issuer, aud: settings.audience, exp: now() + 600 }), /^unsupported token$/]
  ]
  for (const [name, token, reason] of cases) {
    const v: Verdict = await validate(token)
    t.equal(v.valid, false, `${name}: invalid`)
    t.equal(v.subject, null, `${name}: no subject`)
    t.match(v.reason, reason, `${name}: ${v.reason ?? ''}`)
  }
})

async function jwksServer (t: Tap, body: () => { status: number, json?: unknown } | null): Promise<string> {
  const server = http.createServer((req, res) => {
    const answer = body()
    if (answer === null) return // hang: a key source that never answers
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.json ?? {}))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  return undefined
}

t.test('no key material, no validator', async (t) => {
  t.throws(() => createValidator({ issuer: 'postboard', audience: 'postboard-api' }), /TOKEN_SECRET of at least 32 characters/)
  t.throws(() => createValidator({ ...settings, secret: 'short' }), /TOKEN_SECRET of at least 32 characters/)
})

t.test('RS256 and ES256 against a JWKS URL', async (t) => {
  const rsa = await generateKeyPair('RS256')
  const ec = await generateKeyPair('ES256')
  const stranger = await generateKeyPair('RS256')
  const keys = [{ ...(await exportJWK(rsa.publicKey)), kid: 'r1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'e1', alg: 'ES256', use: 'sig' }]
  let fetches = 0
  const url = await jwksServer(t, () => { fetches++; return { status: 200, json: { keys } } })
  const validate = createValidator({ ...settings, secret: undefined, jwksUrl: url })
  const sign = async (key: Parameters<SignJWT['sign']>[0], alg: string, kid: string, claims: JWTPayload = {}): Promise<string> =>
    await new SignJWT({ sub: '11', iss: settings.issuer, aud: settings.audience, exp: now() + 600, ...claims })
      .setProtectedHeader({ alg, kid }).sign(key)

  t.match(await validate(await sign(rsa.privateKey, 'RS256', 'r1')), { valid: true, subject: '11' }, 'RS256')
  t.match(await validate(await sign(ec.privateKey, 'ES256', 'e1')), { valid: true, subject: '11' }, 'ES256')
  t.match(await validate(await sign(stranger.privateKey, 'RS256', 'r1')), { valid: false, reason: 'bad signature' }, 'right kid, wrong key')
  t.match(await validate(await sign(rsa.privateKey, 'RS256', 'r1', { exp: now() - 5 })), { valid: false, reason: 'token expired' })
  t.match(await validate(await sign(rsa.privateKey, 'RS256', 'r1', { aud: 'x' })), { valid: false, reason: /^claim aud rejected/ })
  t.match(await validate(await sign(rsa.privateKey, 'RS256', 'nope')), { valid: false, reason: 'no matching key' }, 'unknown kid')
  // Algorithm confusion: an HS256 token "signed" with the public key must not pass when keys come from a JWKS.
  const confused = await new SignJWT({ sub: '11', iss: settings.issuer, aud: settings.audience, exp: now() + 600 })
    .setProtectedHeader({ alg: 'HS256', kid: 'r1' }).sign(new TextEncoder().encode(JSON.stringify(keys[0])))
  t.match(await validate(confused), { valid: false, reason: 'algorithm not allowed' }, 'HS256 against a JWKS')
  t.match(await validate(await hs({})), { valid: false }, 'the shared-secret token is not accepted in JWKS mode')
  t.ok(fetches >= 1 && fetches <= 3, `the JWKS is fetched once and cached (${fetches} fetches, jose re-fetches on an unknown kid)`)
})

t.test('an unreadable key source is an outage, not a verdict', async (t) => {
  const ec = await generateKeyPair('ES256')
  const token = await new SignJWT({ sub: '3', iss: settings.issuer, aud: settings.audience, exp: now() + 600 })
    .setProtectedHeader({ alg: 'ES256', kid: 'e1' }).sign(ec.privateKey)

  const failing = await jwksServer(t, () => ({ status: 500 }))
  t.ok(await rejection(createValidator({ ...settings, jwksUrl: failing })(token)) instanceof KeySourceUnavailableError, 'JWKS answers 500')

  const hanging = await jwksServer(t, () => null)
  const started = Date.now()
  const verifier = createLocalVerifier({ ...settings, jwksUrl: hanging, jwksTimeoutMs: 300 })
  t.ok(await rejection(verifier.verify(token)) instanceof VerifierUnavailableError, 'JWKS never answers: the local verifier reports an outage')
  t.ok(Date.now() - started < 2000, 'bounded by jwksTimeoutMs')

  const closed = 'http://127.0.0.1:1/.well-known/jwks.json'
  t.ok(await rejection(createLocalVerifier({ ...settings, jwksUrl: closed }).verify(token)) instanceof VerifierUnavailableError, 'nothing listening')
  t.match(await createLocalVerifier({ ...settings, jwksUrl: closed }).verify('garbage'), { valid: false, reason: 'malformed token' },
    'a token that cannot be parsed is still a verdict: no key was needed')
})

t.test('the Lambda handler: { token } in, a verdict out', async (t) => {
  // The handler reads its settings from the environment when it loads, as the function does.
  process.env.TOKEN_SECRET = settings.secret
  t.teardown(() => { delete process.env.TOKEN_SECRET })
  const { handler } = await import('../../src/identity/handler.js')
  t.match(await handler({ token: await mintToken(settings, '12', 60) }), { valid: true, subject: '12', reason: null })
  t.match(await handler({ token: await mintToken({ ...settings, secret: 'someone-elses-secret-of-32-characters-or-more' }, '12', 60) }), { valid: false, reason: 'bad signature' })
  for (const event of [{}, null, 'a string', { token: 5 }]) t.match(await handler(event), { valid: false, reason: 'missing token' })
})

t.test('without its own key material, the function refuses to start: there is no fallback secret', async (t) => {
  const start = async (env: Record<string, string>): Promise<{ code: number | null, stderr: string }> => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "await import('./src/identity/handler.ts')"],
      // NODE_V8_COVERAGE passes through so c8 sees the child's run of the handler too.
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...(process.env.NODE_V8_COVERAGE === undefined ? {} : { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE }), ...env } })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const [code] = await once(child, 'exit') as [number | null]
    return { code, stderr }
  }
  const bare = await start({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' })
  t.not(bare.code, 0)
  t.match(bare.stderr, /TOKEN_SECRET \(or TOKEN_SECRET_FILE\) or TOKEN_JWKS_URL must be set on the function/)
  const short = await start({ TOKEN_SECRET: 'too-short' })
  t.not(short.code, 0)
  t.match(short.stderr, /TOKEN_SECRET of at least 32 characters/)
  t.equal((await start({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x', TOKEN_SECRET: settings.secret })).code, 0, 'with a secret it loads')
  const local = await start({})
  t.not(local.code, 0, 'locally (no AWS_EXECUTION_ENV) too: no secret is published to fall back on')
  t.match(local.stderr, /TOKEN_SECRET \(or TOKEN_SECRET_FILE\) or TOKEN_JWKS_URL must be set on the function/)
  t.equal((await start({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x', TOKEN_JWKS_URL: 'https://issuer.example/.well-known/jwks.json', TOKEN_ALGORITHMS: 'RS256, ES256' })).code, 0,
    'or with a JWKS URL and its algorithms (fetched on first use, not at load)')
  // A container platform's secret: TOKEN_SECRET_FILE, read once at load, as the server reads it.
  const dir = t.testdir({ secret: `${settings.secret}\n` })
  t.equal((await start({ TOKEN_SECRET_FILE: join(dir, 'secret') })).code, 0, 'with TOKEN_SECRET_FILE it loads')
  const unreadable = await start({ TOKEN_SECRET_FILE: join(dir, 'missing') })
  t.not(unreadable.code, 0)
  t.match(unreadable.stderr, /TOKEN_SECRET_FILE: cannot read .*missing \(ENOENT\)/)
  const both = await start({ TOKEN_SECRET_FILE: join(dir, 'secret'), TOKEN_SECRET: settings.secret })
  t.match(both.stderr, /TOKEN_SECRET_FILE: set together with TOKEN_SECRET/)
})
