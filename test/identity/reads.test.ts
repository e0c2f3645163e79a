// Identity on reads, through the stack's Lambda emulator running our handler: valid tokens read, bad ones are 401
// with a challenge, no verdict is 503; concurrent checks of one token share one invoke. Also local and off modes.
// (A process whose roles never check identity: reads.unit.test.ts.)
import t from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { SignJWT } from 'jose'
import { build, dbOf, metricValue } from '../helper/index.js'
import { mintToken } from '../../src/identity/token.js'
import { createUser as storeUser } from '../../src/store/users.js'

const LAMBDA = { IDENTITY_MODE: 'lambda' }
const now = (): number => Math.floor(Date.now() / 1000)
const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')

/** Verifier calls so far in this process (one per InvokeCommand in lambda mode). */
async function invokes (app: FastifyInstance): Promise<number> {
  return await metricValue(app.metrics.identityInvokeDuration)
}

// Straight into the store: this file is about the read path's gate, not the write route.
async function createUser (app: FastifyInstance, username: string): Promise<number> {
  return (await storeUser(app.store, dbOf(app), username)).doc._id
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('through the emulator: a valid token reads; every bad token is 401 with a challenge', async (t) => {
  const app = await build(t, { role: 'read' }, LAMBDA)
  const id = await createUser(app, 'reader')
  const settings = app.config.token
  const good = await mintToken(settings, String(id), 600)

  const ok = await app.inject({ url: `/get_server/users/${id}`, headers: bearer(good) })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { user_id: id, username: 'reader' })
  t.equal((await app.inject({ url: '/get_server/posts', headers: bearer(good) })).statusCode, 200, 'every read route')
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'health needs no token')

  const claims = { sub: String(id), iss: settings.issuer, aud: settings.audience, iat: now() }
  const sign = async (extra: object, secret = settings.secret): Promise<string> =>
    await new SignJWT({ ...claims, exp: now() + 600, ...extra }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
  const bad: Array<[string, string, RegExp]> = [
    ['expired', await sign({ exp: now() - 30 }), /token expired/],
    ['forged signature', await sign({}, 'an-attacker-secret-that-is-32-characters-long'), /bad signature/],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, exp: now() + 600 })}.`, /algorithm not allowed/],
    ['wrong audience', await sign({ aud: 'another-api' }), /claim aud rejected/],
    ['garbage', 'garbage', /malformed token/]
  ]
  for (const [name, token, reason] of bad) {
    const res = await app.inject({ url: `/get_server/users/${id}`, headers: bearer(token) })
    t.equal(res.statusCode, 401, `${name}: 401`)
    t.match(res.json(), { statusCode: 401, error: 'Unauthorized', message: reason }, `${name}: says why`)
    t.notMatch(res.body, /reader/, `${name}: no data`)
    t.match(res.headers['www-authenticate'], /^Bearer realm="postboard", error="invalid_token", error_description="[^"]+"$/, `${name}: challenge`)
  }

  for (const [name, headers] of [['missing header', {}], ['another scheme', { authorization: `Basic ${btoa('u:p')}` }], ['empty bearer', { authorization: 'Bearer ' }]] as const) {
    const res = await app.inject({ url: `/get_server/users/${id}`, headers })
    t.equal(res.statusCode, 401, `${name}: 401`)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="postboard"', `${name}: challenge without an error code`)
    t.match(res.json(), { message: /bearer token is required/ })
  }
})

t.test('100 concurrent requests with one token make one invoke; cached verdicts make none', async (t) => {
  const app = await build(t, { role: 'read' }, LAMBDA)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const token = await mintToken(app.config.token, '4242', 600)
  const get = async (tok: string): Promise<number> => (await fetch(`${base}/get_server/users/1`, { headers: bearer(tok) })).status

  const before = await invokes(app)
  const statuses = await Promise.all(Array.from({ length: 100 }, async () => await get(token)))
  t.equal(await invokes(app) - before, 1, 'one invoke for 100 concurrent requests')
  t.same(new Set(statuses), new Set([404]), 'all passed the check (the user does not exist)')
  t.same(new Set(await Promise.all(Array.from({ length: 50 }, async () => await get(token)))), new Set([404]))
  t.equal(await invokes(app) - before, 1, 'later requests are served from the verdict cache')

  // The emulator runs one invoke at a time: distinct tokens queue there, and still each get a verdict in time.
  const tokens = await Promise.all(Array.from({ length: 20 }, async (_, i) => await mintToken(app.config.token, String(i + 1), 600)))
  const mid = await invokes(app)
  t.same(new Set(await Promise.all(tokens.map(get))), new Set([404]), '20 distinct tokens at once')
  t.equal(await invokes(app) - mid, 20, 'one invoke each')
})

t.test('one keep-alive connection changing its token: each request is judged by the header it sends', async (t) => {
  // The hook remembers a connection's last header and its token's key; a different header on the same connection,
  // or none, must be judged afresh, and a remembered header whose verdict expired must be verified again.
  const app = await build(t, { role: 'read' }, { ...LAMBDA, IDENTITY_NEGATIVE_CACHE_SECONDS: '1' })
  const id = await createUser(app, 'one-connection')
  let connections = 0
  app.server.on('connection', () => { connections++ })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  const port = (app.server.address() as AddressInfo).port
  const get = async (headers: Record<string, string>): Promise<{ status: number, body: string }> => {
    const req = http.get({ host: '127.0.0.1', port, path: `/get_server/users/${id}`, headers, agent })
    const [res] = await once(req, 'response') as [http.IncomingMessage]
    let body = ''
    for await (const chunk of res) body += String(chunk)
    return { status: res.statusCode!, body }
  }
  const good = await mintToken(app.config.token, String(id), 600)
  const forged = await mintToken({ ...app.config.token, secret: 'another-secret-that-is-at-least-32-characters' }, String(id), 600)

  t.equal((await get(bearer(good))).status, 200, 'a valid token reads')
  t.equal((await get(bearer(good))).status, 200, 'and again, from the connection\'s remembered key')
  const refused = await get(bearer(forged))
  t.equal(refused.status, 401, 'another token on the same connection is judged on its own')
  t.match(refused.body, /bad signature/)
  t.equal((await get({})).status, 401, 'no header after a good one: refused')
  t.match((await get({ authorization: `Basic ${btoa('u:p')}` })).body, /bearer token is required/, 'another scheme: refused')
  t.equal((await get(bearer(good))).status, 200, 'the valid token again')

  // Well-formed, so only the validator can refuse it (malformed ones are refused without it: no verdict to cache).
  const forgedAgain = await mintToken({ ...app.config.token, secret: 'another-secret-that-is-at-least-32-characters' }, String(id + 1), 600)
  const before = await invokes(app)
  t.equal((await get(bearer(forgedAgain))).status, 401)
  t.equal((await get(bearer(forgedAgain))).status, 401)
  t.equal(await invokes(app) - before, 1, 'the negative verdict was cached')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await get(bearer(forgedAgain))).status, 401, 'a remembered header whose verdict expired is still refused')
  t.equal(await invokes(app) - before, 2, 'after being verified again')
  t.equal(connections, 1, 'every request went over one connection')
})

t.test('negative verdicts are cached briefly', async (t) => {
  const app = await build(t, { role: 'read' }, { ...LAMBDA, IDENTITY_NEGATIVE_CACHE_SECONDS: '1' })
  const forged = await mintToken({ ...app.config.token, secret: 'another-secret-that-is-at-least-32-characters' }, '1', 600)
  const before = await invokes(app)
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/get_server/posts', headers: bearer(forged) })).statusCode, 401)
  t.equal(await invokes(app) - before, 1, 'one invoke for three checks')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await app.inject({ url: '/get_server/posts', headers: bearer(forged) })).statusCode, 401)
  t.equal(await invokes(app) - before, 2, 'asked again once the negative entry expired')
})

t.test('the emulator knows only the function name `function`: any other is an outage (503), never a verdict', async (t) => {
  const app = await build(t, { role: 'read' }, { ...LAMBDA, LAMBDA_FUNCTION_NAME: 'postboard-identity' })
  const res = await app.inject({ url: '/get_server/posts', headers: bearer(await mintToken(app.config.token, '1', 600)) })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.equal(res.headers['www-authenticate'], undefined, 'not a challenge: the token was not judged')
  t.match(res.json(), { statusCode: 503, error: 'Service Unavailable' })
})

t.test('a validator that never answers: 503 within IDENTITY_TIMEOUT_MS', async (t) => {
  const sockets = new Set<import('node:net').Socket>()
  const hung = http.createServer(() => { /* never answers */ })
  hung.on('connection', (s) => { sockets.add(s) })
  hung.listen(0, '127.0.0.1')
  await once(hung, 'listening')
  t.teardown(() => { for (const s of sockets) s.destroy(); hung.close() })
  const endpoint = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`
  const app = await build(t, { role: 'read' }, { ...LAMBDA, LAMBDA_ENDPOINT: endpoint, IDENTITY_TIMEOUT_MS: '300' })
  const token = await mintToken(app.config.token, '1', 600)
  const started = Date.now()
  const res = await app.inject({ url: '/get_server/posts', headers: bearer(token) })
  const took = Date.now() - started
  t.equal(res.statusCode, 503)
  t.ok(took >= 250 && took < 1500, `bounded by the timeout, no long retries (${took} ms)`)
})

t.test('IDENTITY_MODE=local gives the same verdicts in-process, without an invoke', async (t) => {
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'local', LAMBDA_ENDPOINT: 'http://127.0.0.1:1' })
  const token = await mintToken(app.config.token, '5', 600)
  const res = await app.inject({ url: '/get_server/users/999999', headers: bearer(token) })
  t.equal(res.statusCode, 404, 'passed the check')
  const forged = await mintToken({ ...app.config.token, secret: 'another-secret-that-is-at-least-32-characters' }, '5', 600)
  const refused = await app.inject({ url: '/get_server/users/999999', headers: bearer(forged) })
  t.equal(refused.statusCode, 401)
  t.match(refused.json(), { message: 'invalid token: bad signature' })
  t.equal(app.identity.checker?.verifier.kind, 'local')
})

t.test('IDENTITY_MODE=off: reads pass without a token (only when set explicitly)', async (t) => {
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'off' })
  t.equal(app.identity.mode, 'off')
  t.equal(app.identity.checker, null)
  const res = await app.inject({ url: '/get_server/users/999999' })
  t.equal(res.statusCode, 404, 'the route ran')
  t.equal(res.headers['www-authenticate'], undefined)
})
