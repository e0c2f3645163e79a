// Attacks on identity and the validator's outage, over real HTTP with --auth-writes and the stack's Lambda emulator.
// Every bad token on every route is refused (401, or 403 for posting as someone else) and changes nothing; with the
// validator stopped, new well-formed tokens fail closed (503) while cached verdicts answer until they expire.
// Figures: attempts and let through; verdicts during the outage.
import t from 'tap'
import { SignJWT } from 'jose'
import { build, call, dbOf, figure, outage, serve, sleep, stack, type Reply } from '../helper/index.js'
import { mintToken } from '../../src/identity/token.js'
import { findPostVersioned, findUserVersioned } from '../../src/store/read.js'

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

/** Every route that needs a token under --auth-writes, as one request each. */
function routes (postId: number, userId: number, authorId: number): Array<{ name: string, method: string, path: string, body?: unknown }> {
  return [
    { name: 'GET user', method: 'GET', path: `/get_server/users/${userId}` },
    { name: 'GET post', method: 'GET', path: `/get_server/posts/${postId}` },
    { name: 'GET list', method: 'GET', path: '/get_server/posts' },
    { name: 'POST user', method: 'POST', path: '/post_server/users', body: { username: `intruder${Math.random().toString(36).slice(2, 8)}` } },
    { name: 'POST post', method: 'POST', path: '/post_server/posts', body: { user_id: authorId, title: 'intrusion', content: 'should not exist' } },
    { name: 'POST like', method: 'POST', path: `/post_server/posts/${postId}/like` },
    { name: 'POST dislike', method: 'POST', path: `/post_server/posts/${postId}/dislike` }
  ]
}

t.test('tokens: missing, garbage, alg none, forged, expired, wrong audience, another user\'s: none let through', async (t) => {
  const app = await build(t, { role: 'all', authWrites: true }, { IDENTITY_MODE: 'lambda' })
  const { base } = await serve(app)
  const db = dbOf(app)
  const settings = app.config.token
  const secret = new TextEncoder().encode(settings.secret)

  // Alice and Bob, and one post of Alice's, made the legitimate way.
  const admin = await mintToken(settings, '999999', 600)
  const alice = (await call(base, 'POST', '/post_server/users', { username: 'alice' }, bearer(admin))).body as { user_id: number }
  const bob = (await call(base, 'POST', '/post_server/users', { username: 'bob' }, bearer(admin))).body as { user_id: number }
  const aliceToken = await mintToken(settings, String(alice.user_id), 600)
  const bobToken = await mintToken(settings, String(bob.user_id), 600)
  const created = await call(base, 'POST', '/post_server/posts', { user_id: alice.user_id, title: 'mine', content: 'by alice' }, bearer(aliceToken))
  t.equal(created.status, 201, 'a valid token posting as its own subject is accepted')
  const postId = (created.body as { post_id: number }).post_id
  const before = await findPostVersioned(db, postId)

  const claims = { sub: String(alice.user_id), iss: settings.issuer, aud: settings.audience, iat: now(), exp: now() + 600 }
  const sign = async (payload: object, alg = 'HS256', key = secret): Promise<string> =>
    await new SignJWT({ ...payload }).setProtectedHeader({ alg, typ: 'JWT' }).sign(key)
  const [h, p, s] = aliceToken.split('.') as [string, string, string]
  const attacker = new TextEncoder().encode('an-attacker-secret-that-is-at-least-32-chars')
  const without = (name: string): object => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== name))
  const tokens: Array<[string, Record<string, string>]> = [
    ['missing header', {}],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['another scheme', { authorization: `Basic ${btoa(`${alice.user_id}:password`)}` }],
    ['token without scheme', { authorization: aliceToken }],
    ['token in the query string only', {}],
    ['token in a cookie only', { cookie: `token=${aliceToken}` }],
    ['garbage', bearer('garbage')],
    ['three garbage parts', bearer('a.b.c')],
    ['five parts (JWE shape)', bearer(`${h}.${p}.${s}.x.y`)],
    ['alg none, no signature', bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`)],
    ['alg none, a real signature pasted on', bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.${s}`)],
    ['forged signature (another secret)', bearer(await sign(claims, 'HS256', attacker))],
    ['payload swapped to Bob under Alice\'s signature', bearer(`${h}.${b64({ ...claims, sub: String(bob.user_id) })}.${s}`)],
    ['signature stripped', bearer(`${h}.${p}.`)],
    ['expired', bearer(await sign({ ...claims, exp: now() - 60 }))],
    ['not valid yet (nbf in an hour)', bearer(await sign({ ...claims, nbf: now() + 3600 }))],
    ['wrong audience', bearer(await sign({ ...claims, aud: 'another-api' }))],
    ['wrong issuer', bearer(await sign({ ...claims, iss: 'someone-else' }))],
    ['no exp', bearer(await sign(without('exp')))],
    ['no sub', bearer(await sign(without('sub')))],
    ['empty sub', bearer(await sign({ ...claims, sub: '' }))],
    ['HS512 with the right secret (alg not allowed)', bearer(await sign(claims, 'HS512'))],
    ['RS256 header over an HMAC signature (alg confusion)', bearer(`${b64({ alg: 'RS256', typ: 'JWT' })}.${p}.${s}`)],
    ['jku header pointing elsewhere, signed by the attacker', bearer(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', jku: 'http://127.0.0.1:1/keys.json', kid: 'x' }).sign(attacker))],
    ['oversized token', bearer(`${h}.${'A'.repeat(9000)}.${s}`)]
  ]

  // Let through: anything but the refusal expected (the identity hook runs before parsing and validation, so any other
  // status means the request got past it). Refused, but not as a JSON { statusCode, error, message }: misshapen.
  const letThrough: string[] = []
  const misshapen: string[] = []
  let attempts = 0
  const check = (what: string, res: Reply, expected: number): void => {
    attempts++
    const body = res.body as Record<string, unknown> | null
    const shaped = body !== null && Object.keys(body).sort().join(',') === 'error,message,statusCode' && body.statusCode === res.status
    if (res.status !== expected) letThrough.push(`${what}: ${res.status} ${res.text.slice(0, 160)}`)
    else if (!shaped) misshapen.push(`${what}: ${res.text.slice(0, 160)}`)
  }
  for (const [name, headers] of tokens) {
    for (const route of routes(postId, alice.user_id, alice.user_id)) {
      const path = name === 'token in the query string only' ? `${route.path}?access_token=${aliceToken}` : route.path
      check(`${name} → ${route.name}`, await call(base, route.method, path, route.body, headers), 401)
    }
  }
  // A valid token used as someone else: Bob posting as Alice, plainly and with Alice's idempotency key.
  const asAlice = { user_id: alice.user_id, title: 'impostor', content: 'bob wrote this' }
  check('Bob\'s token posting as Alice', await call(base, 'POST', '/post_server/posts', asAlice, bearer(bobToken)), 403)
  await call(base, 'POST', '/post_server/posts', { user_id: alice.user_id, title: 'keyed', content: 'by alice' }, { ...bearer(aliceToken), 'idempotency-key': 'alice-key-1' })
  check('Bob replaying Alice\'s idempotency key as Alice', await call(base, 'POST', '/post_server/posts',
    { user_id: alice.user_id, title: 'keyed', content: 'by alice' }, { ...bearer(bobToken), 'idempotency-key': 'alice-key-1' }), 403)
  check('Bob posting as Alice with a string id', await call(base, 'POST', '/post_server/posts', { ...asAlice, user_id: String(alice.user_id) }, bearer(bobToken)), 400)

  // Nothing the refused requests asked for happened.
  const after = await findPostVersioned(db, postId)
  t.same(after, before, 'the attacked post is unchanged (no like, no dislike)')
  t.equal(await findUserVersioned(db, bob.user_id + 1), null, 'no user was created by a refused request')
  const list = await call(base, 'GET', '/get_server/posts?limit=100', undefined, bearer(aliceToken))
  const titles = (list.body as { items: Array<{ title: string }> }).items.map((i) => i.title).sort()
  t.same(titles, ['keyed', 'mine'], 'the only posts are Alice\'s own')

  figure(t, 'tokens', `attempts ${attempts} (${tokens.length} token forms × 7 routes + 3 impersonations), let through ${letThrough.length}`)
  t.same(letThrough, [], 'every attempt refused with the expected status')
  t.same(misshapen, [], 'each refusal a JSON error body')
  t.ok(attempts >= 150)
})

t.test('validator stopped: new tokens fail closed, cached verdicts answer until they expire', async (t) => {
  const CACHE_SECONDS = 6
  const app = await build(t, { role: 'all', authWrites: true },
    { IDENTITY_MODE: 'lambda', IDENTITY_CACHE_MAX_SECONDS: String(CACHE_SECONDS), IDENTITY_TIMEOUT_MS: '1000' })
  const { base } = await serve(app)
  const settings = app.config.token
  const users = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
    const res = await call(base, 'POST', '/post_server/users', { username: `cached${i}` }, bearer(await mintToken(settings, '999999', 600)))
    return (res.body as { user_id: number }).user_id
  }))
  const cached = await Promise.all(users.map(async (id) => await mintToken(settings, String(id), 600)))
  const fresh = await Promise.all(Array.from({ length: 20 }, async (_, i) => await mintToken(settings, String(users[i % users.length]!), 601 + i)))
  for (const [i, token] of cached.entries()) t.equal((await call(base, 'GET', `/get_server/users/${users[i]!}`, undefined, bearer(token))).status, 200)
  const cachedAt = Date.now()

  await outage(t, 'lambda')
  t.ok(Date.now() - cachedAt < (CACHE_SECONDS - 2) * 1000, 'the validator is down well within the verdicts\' lifetime')
  const during = await Promise.all([
    ...cached.map(async (token, i) => ['cached read', await call(base, 'GET', `/get_server/users/${users[i]!}`, undefined, bearer(token))] as const),
    ...cached.map(async (token, i) => ['cached write', await call(base, 'POST', '/post_server/posts',
      { user_id: users[i]!, title: 'while the validator is down', content: 'cached verdict' }, bearer(token))] as const),
    ...fresh.map(async (token, i) => ['new read', await call(base, 'GET', `/get_server/users/${users[i % users.length]!}`, undefined, bearer(token))] as const),
    ...fresh.map(async (token, i) => ['new write', await call(base, 'POST', '/post_server/posts',
      { user_id: users[i % users.length]!, title: 'x', content: 'new token' }, bearer(token))] as const),
    ...Array.from({ length: 5 }, async () => ['garbage', await call(base, 'GET', '/get_server/posts', undefined, bearer('garbage'))] as const)
  ])
  const of = (kind: string): Reply[] => during.filter(([k]) => k === kind).map(([, r]) => r)
  const cachedOk = [...of('cached read'), ...of('cached write')].filter((r) => r.status === 200 || r.status === 201).length
  const newThrough = [...of('new read'), ...of('new write')].filter((r) => r.status !== 503)
  // What cannot be a token is refused on the spot (401), validator or not: still closed.
  t.same(of('garbage').map((r) => r.status), [401, 401, 401, 401, 401], 'garbage is refused without the validator')
  t.equal(cachedOk, 2 * cached.length, 'every cached verdict still answers, reads and writes')
  t.same(newThrough.map((r) => `${r.status} ${r.text}`), [], 'every new well-formed token, valid or not, is refused with 503 (fail closed)')
  t.ok([...of('new read'), ...of('new write')].every((r) => JSON.stringify(r.body) ===
    JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'the identity validator is unavailable; try again shortly' })), 'with a plain message', { bodies: [...new Set([...of('new read'), ...of('new write')].map((r) => r.text))] })
  t.equal((await call(base, 'GET', '/get_server/posts')).status, 401, 'no token at all is still a 401: nothing to ask the validator')

  await sleep(cachedAt + CACHE_SECONDS * 1000 + 200 - Date.now())
  const expired = await Promise.all(cached.map(async (token, i) => await call(base, 'GET', `/get_server/users/${users[i]!}`, undefined, bearer(token))))
  const expiredThrough = expired.filter((r) => r.status !== 503).length
  figure(t, 'validator-outage', `cached verdicts answered ${cachedOk} / ${2 * cached.length}; new tokens let through ` +
    `${newThrough.length} / ${of('new read').length + of('new write').length}; after expiry let through ${expiredThrough} / ${cached.length}`)
  t.equal(expiredThrough, 0, 'once the verdicts expire, the same tokens fail closed too')

  await stack('up', 'lambda')
  t.equal((await call(base, 'GET', `/get_server/users/${users[0]!}`, undefined, bearer(fresh[0]!))).status, 200, 'service resumes with the validator')
})
