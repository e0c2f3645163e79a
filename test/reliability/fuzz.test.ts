// Schema-driven fuzzing of every route over raw TCP (so nothing is normalised on the way): wrong types, huge and tiny
// values, unicode, NUL bytes, deep nesting, operator injection, prototype-pollution keys, oversize bodies, wrong content
// types, broken JSON, odd paths, methods, query strings, headers and malformed HTTP. A seeded generator of our own
// (no dependency) makes a fixed number of cases. Every case must be answered in time, below 500, with a JSON error body
// for a 4xx; some families must get one exact status. After the run a normal request still works and nothing leaked
// into Object.prototype. Figure: cases, 5xx, hangs.
import t from 'tap'
import net from 'node:net'
import { build, call, figure, prng, serve } from '../helper/index.js'
import { mintToken } from '../../src/identity/token.js'
import { MAX_CONTENT_BYTES } from '../../src/shared/schemas.js'

const SEED = 0x5eed
const CASES = 2000
const CONCURRENCY = 4
const CASE_TIMEOUT_MS = 10_000

interface Case {
  family: string
  /** A whole request as bytes (method line to body), or the parts to build one from. */
  raw?: string
  method?: string
  path?: string
  headers?: Record<string, string>
  body?: string
  /** Statuses this family must get; otherwise any status below 500. */
  expect?: number[]
}

interface Answer { status: number, headers: Record<string, string>, body: string }

/**
 * Sends one request on its own connection and reads one response: complete once its Content-Length or last chunk has
 * arrived (the server may keep the connection open), or whatever had arrived when the server closed it.
 */
async function send (port: number, request: Buffer, head: boolean): Promise<Answer | 'hang' | 'closed'> {
  return await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    let settled = false
    const finish = (result: Answer | 'hang' | 'closed'): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => finish('hang'), CASE_TIMEOUT_MS)
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d])
      const answer = parse(received, head)
      if (answer?.complete === true) finish(answer)
    })
    socket.on('error', () => {}) // a reset after the answer (the server refusing the rest) is judged by what arrived
    socket.on('close', () => finish(parse(received, head) ?? 'closed'))
    socket.write(request)
  })
}

/** The first final (non-1xx) response in bytes, with complete saying whether all of its body has arrived. */
function parse (bytes: Buffer, head: boolean): (Answer & { complete: boolean }) | null {
  let text = bytes.toString('latin1')
  // An interim "100 Continue" precedes the real answer.
  while (/^HTTP\/1\.[01] 1\d\d /.test(text) && text.includes('\r\n\r\n')) text = text.slice(text.indexOf('\r\n\r\n') + 4)
  const end = text.indexOf('\r\n\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  if (end < 0 || status === null) return null
  const headers: Record<string, string> = {}
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const at = line.indexOf(':')
    headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim()
  }
  const raw = Buffer.from(text.slice(end + 4), 'latin1')
  const code = Number(status[1])
  if (head || code === 204 || code === 304) return { status: code, headers, body: '', complete: true }
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = []
    for (let at = 0; ;) {
      const eol = raw.indexOf('\r\n', at)
      if (eol < 0) return { status: code, headers, body: Buffer.concat(parts).toString('utf8'), complete: false }
      const size = parseInt(raw.subarray(at, eol).toString(), 16)
      if (size === 0) return { status: code, headers, body: Buffer.concat(parts).toString('utf8'), complete: true }
      parts.push(raw.subarray(eol + 2, eol + 2 + size))
      at = eol + 4 + size
    }
  }
  const length = Number(headers['content-length'] ?? NaN)
  return { status: code, headers, body: raw.subarray(0, Number.isNaN(length) ? undefined : length).toString('utf8'), complete: raw.length >= length }
}

function requestBytes (c: Case): Buffer {
  if (c.raw !== undefined) return Buffer.from(c.raw, 'latin1')
  const body = c.body === undefined ? undefined : Buffer.from(c.body, 'utf8')
  const headers = { host: '127.0.0.1', connection: 'close', ...c.headers, ...(body !== undefined && { 'content-length': String(body.length) }) }
  const head = `${c.method!} ${c.path!} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)])
}

// Field values as JSON text: wrong types, edges of the schema's bounds, unicode, NUL, injection, deep nesting.
const STRINGS = ['', ' ', '\t\n', 'a', 'a'.repeat(50), 'a'.repeat(51), 'a'.repeat(255), 'a'.repeat(256), 'x'.repeat(MAX_CONTENT_BYTES + 1),
  '😀'.repeat(MAX_CONTENT_BYTES / 4 + 1), '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '\u202eevil', 'e\u0301', '\u200b', '\ufeffbom',
  'null', 'undefined', '<script>alert(1)</script>', "'; DROP TABLE users; --", '$' + '{7*7}{{7*7}}', '../../etc/passwd', '%00', '\r\nX-Injected: 1',
  'Ω≈ç√∫˜µ≤≥÷', '田中さんにあげて下さい', '١٢٣', '𝕿𝖍𝖊', 'ﷺ', '\\', '"', '{"$gt":""}']
const NUMBERS = ['0', '-1', '1', '1.5', '-0', '1e308', '-1e308', '1e400', '9007199254740991', '9007199254740993',
  '123456789012345678901234567890', '1e-7', '0.0000001', '2147483648', '-9007199254740993']
const OTHERS = ['true', 'false', 'null', '[]', '[1]', '["a"]', '{}', '{"$gt":""}', '{"$ne":null}', '{"$where":"sleep(1000)"}',
  '{"$regex":".*"}', '{"$exists":true}', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}',
  '{"toString":1}', '[{"$gt":""}]']
const DEPTHS = [100, 1000, 10_000, 50_000]
const INJECTIONS = ['{"$gt":""}', '{"$ne":null}', '{"$where":"1"}', '{"$regex":".*"}', '{"$in":[1,2,3]}', '{"$exists":true}', '[{"$gt":""}]']
const EXTRA_KEYS = ['$gt', '$where', '__proto__', 'constructor', 'prototype', 'extra', '', ' ', 'user_id ', 'USERNAME', '\u0000']
const BROKEN = ['{', '}', '{"username":', '{"username":"a",}', "{'username':'a'}", '{username:"a"}', '{"username":"a"}}', '{"username":"a"} x',
  '{"username":NaN}', '{"username":Infinity}', '{"username":undefined}', '/* c */{"username":"a"}',
  '{"username":"\\x41"}', '{"username":"a","username":{"$gt":""}}', '{"__proto__":{"polluted":true},"username":"p"}',
  '{"constructor":{"prototype":{"polluted":true}},"username":"c"}', '"string"', '42', 'null', 'true', '[]', '', ' ', '\u0000', 'garbage']
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/JSON', 'application/json;charset=UTF-8',
  'application/json; charset=utf-16', 'application/json; charset=latin1', 'text/plain', 'text/html', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', 'application/xml', 'application/vnd.api+json', 'application/json, text/plain', 'json', '*/*', '']
const NOT_JSON = new Set(['text/plain', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml'])
const IDS = ['0', '-1', '1.5', '1e3', '0x10', '00001', '9'.repeat(16), '9'.repeat(20), '%00', '%2e%2e', 'abc', '%F0%9F%98%80', '1%20', '%',
  '%zz', '1;2', '..', '%2F', '1'.repeat(101), ' 1', '+1', 'Infinity', 'NaN', 'null', 'undefined', '__proto__', 'constructor', '[1]', '%5B%5D',
  '1e400', '١', '１']
const QUERIES = ['limit=0', 'limit=-1', 'limit=101', 'limit=abc', 'limit=1e2', 'limit=1.5', 'limit=1&limit=2', 'limit[]=1', 'limit[$gt]=0',
  '__proto__[polluted]=1', 'constructor[prototype][polluted]=1', '__proto__=x', 'cursor=', 'cursor=%00', 'cursor=' + 'A'.repeat(65),
  'cursor=../../', 'cursor=%zz', 'cursor[$ne]=1', 'limit=%00', 'limit=%EF%BC%91', 'limit=0x10', 'limit=-0', 'limit=', 'x=1',
  'a=1&'.repeat(1000), 'limit=1&cursor=NDE&cursor=NDI', '&&&', '=', '%', '?', '#', 'limit=9999999999999999999999']
const ODD_PATHS = ['/', '//get_server//posts', '/get_server/posts/', '/GET_SERVER/posts', '/get_server/posts/1/../2', '/get_server/%2e%2e/post_server/users',
  '/post_server/users/../../get_server/posts', '/health/../metrics', '/docs/../../etc/passwd', '/docs/%2e%2e/%2e%2e/package.json',
  '/get_server/posts/1/like', '/' + 'a'.repeat(5000), '/get_server', '/post_server', '/get_server/users', '/post_server/posts/1',
  '/post_server/posts/1/like/extra', '/get_server/posts/1%00', '/get_server/posts/\u00e9', '/%', '/%zz', '/get_server/posts;x=1', '*',
  'http://evil.example/get_server/posts', '/health/live?x=%00', '/metrics?format=%zz', '/docs/json?a[b][c]=d', '/docs/static/../../../../etc/passwd',
  '/get_server/./posts', '/get_server/posts/1?x=1#frag', '/\\get_server\\posts']
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'FOO', 'CONNECT']
// HTTP/1.1 without Host: Node itself answers 400 with an empty body before Fastify sees the request (RFC 9112 makes
// the 400 mandatory), so this one 4xx is exempt from the JSON body rule.
const NO_HOST = 'GET /health/live HTTP/1.1\r\n\r\n'
const RAW = [
  'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
  'GET /\r\n\r\n',
  'garbage\r\n\r\n',
  NO_HOST,
  'GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
  'GET /health/live HTTP/1.1\r\nHost: x\r\nX: a\u0000b\r\n\r\n',
  `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n',
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n',
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}',
  'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}',
  'GET http://evil.example/health/live HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /health/live HTTP/1.0\r\n\r\n',
  'GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'
]

function deep (depth: number, inner = '"x"'): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth)
}

function fieldValue (rand: ReturnType<typeof prng>): string {
  const pick = rand.int(10)
  if (pick < 4) return JSON.stringify(rand.pick(STRINGS))
  if (pick < 6) return rand.pick(NUMBERS)
  if (pick < 9) return rand.pick(OTHERS)
  return deep(rand.pick(DEPTHS))
}

function generate (rand: ReturnType<typeof prng>, ids: { user: number, post: number }, token: string): Case {
  const auth = { authorization: `Bearer ${token}` }
  const json = { ...auth, 'content-type': 'application/json' }
  const writes: Array<{ path: string, fields: Record<string, string> }> = [
    { path: '/post_server/users', fields: { username: JSON.stringify(`fz${rand.int(1e9)}`) } },
    { path: '/post_server/posts', fields: { user_id: String(ids.user), title: '"t"', content: '"c"' } }
  ]
  const objectText = (fields: Record<string, string>): string => `{${Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`
  const family = rand.int(12)
  switch (family) {
    case 0: case 1: { // one field of a create replaced
      const route = rand.pick(writes)
      const fields = { ...route.fields }
      const name = rand.pick(Object.keys(fields))
      fields[name] = fieldValue(rand)
      return { family: 'field', method: 'POST', path: route.path, headers: json, body: objectText(fields) }
    }
    case 2: { // operator injection into a field: never a query operator, always a 400
      const route = rand.pick(writes)
      const fields = { ...route.fields, [rand.pick(Object.keys(route.fields))]: rand.pick(INJECTIONS) }
      return { family: 'injection', method: 'POST', path: route.path, headers: json, body: objectText(fields), expect: [400] }
    }
    case 3: { // an extra property, prototype-pollution keys included: always a 400
      const route = rand.pick(writes)
      const body = objectText({ ...route.fields, [rand.pick(EXTRA_KEYS)]: fieldValue(rand) })
      return { family: 'extra-key', method: 'POST', path: route.path, headers: json, body, expect: [400] }
    }
    case 4: { // the whole body broken or of the wrong shape: always a 400 on the creates
      const route = rand.pick(writes)
      const body = rand.int(3) === 0 ? deep(rand.pick(DEPTHS), '{}') : rand.pick(BROKEN)
      return { family: 'broken-body', method: 'POST', path: route.path, headers: json, body, expect: [400] }
    }
    case 5: { // content types: one that is not JSON is a 415
      const route = rand.pick(writes)
      const type = rand.pick(CONTENT_TYPES)
      const headers: Record<string, string> = type === '' ? { ...auth } : { ...auth, 'content-type': type }
      return { family: 'content-type', method: 'POST', path: route.path, headers, body: objectText(route.fields), ...(NOT_JSON.has(type) && { expect: [415] }) }
    }
    case 6: { // over the body limit: 413 whatever the route
      const route = rand.pick(writes)
      const body = rand.int(2) === 0 ? `{"username":"${'a'.repeat(140_000)}"}` : deep(70_000)
      return { family: 'oversize', method: 'POST', path: route.path, headers: json, body, expect: [413] }
    }
    case 7: { // odd ids on every route with an id, with and without a body on the reactions
      const id = rand.pick(IDS)
      const route = rand.pick([`/get_server/users/${id}`, `/get_server/posts/${id}`, `/post_server/posts/${id}/like`, `/post_server/posts/${id}/dislike`])
      const method = route.startsWith('/get') ? 'GET' : 'POST'
      return method === 'GET' || rand.int(2) === 0
        ? { family: 'path-id', method, path: route, headers: auth }
        : { family: 'path-id', method, path: route, headers: json, body: rand.int(2) === 0 ? '{}' : fieldValue(rand) }
    }
    case 8: // the list's query string
      return { family: 'query', method: 'GET', path: `/get_server/posts?${rand.pick(QUERIES)}${rand.int(2) === 0 ? '' : `&${rand.pick(QUERIES)}`}`, headers: auth }
    case 9: { // odd paths and methods
      const path = rand.int(2) === 0 ? rand.pick(ODD_PATHS) : rand.pick(['/get_server/posts', `/get_server/posts/${ids.post}`, '/post_server/users', `/post_server/posts/${ids.post}/like`, '/health/ready', '/docs/json'])
      const method = rand.pick(METHODS)
      return { family: 'path-method', method, path, headers: method === 'POST' || method === 'PUT' || method === 'PATCH' ? json : auth, ...(method !== 'GET' && method !== 'HEAD' && { body: '{}' }) }
    }
    case 10: { // headers: odd idempotency keys and authorization values
      const key = rand.pick(['', ' ', 'k', 'a'.repeat(200), 'a'.repeat(201), 'é', 'a b', '"quoted"', '$gt', '__proto__', 'k\tk', '../k'])
      const authorization = rand.pick([`Bearer ${token}`, `Bearer ${token}`, 'Bearer', 'Bearer  ', `bearer ${token}`, `Bearer ${token} ${token}`, `Bearer ${token}x`, 'Basic Og==', 'Bearer ' + 'A'.repeat(9000), 'Bearer \u00e9'])
      const route = rand.pick([...writes.map((w) => ({ method: 'POST', path: w.path, body: objectText(w.fields) })),
        { method: 'POST', path: `/post_server/posts/${ids.post}/like`, body: '' }, { method: 'GET', path: `/get_server/posts/${ids.post}`, body: '' }])
      return {
        family: 'headers',
        method: route.method,
        path: route.path,
        headers: { authorization: Buffer.from(authorization, 'utf8').toString('latin1'), 'idempotency-key': Buffer.from(key, 'utf8').toString('latin1'), 'content-type': 'application/json' },
        ...(route.body !== '' && { body: route.body })
      }
    }
    default: // malformed HTTP
      return { family: 'raw-http', raw: rand.pick(RAW) }
  }
}

t.test(`fuzzing every route: ${CASES} seeded cases, no 5xx, no hang, JSON errors, still working after`, async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'local' })
  const { base, port } = await serve(app)
  const token = await mintToken(app.config.token, '1', 3600)
  const auth = { authorization: `Bearer ${token}` }
  const user = (await call(base, 'POST', '/post_server/users', { username: 'fuzz-owner' })).body as { user_id: number }
  const created = (await call(base, 'POST', '/post_server/posts', { user_id: user.user_id, title: 'target', content: 'fuzzed' })).body as { post_id: number }
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort()

  const rand = prng(SEED)
  const cases = Array.from({ length: CASES }, () => generate(rand, { user: user.user_id, post: created.post_id }, token))
  const byFamily = new Map<string, number>()
  const problems = { serverErrors: [] as string[], hangs: [] as string[], unanswered: [] as string[], notJson: [] as string[], unexpected: [] as string[] }
  const describe = (c: Case): string => (c.raw ?? `${c.method!} ${c.path!} ${c.headers?.['content-type'] ?? ''} ${c.body ?? ''}`).slice(0, 160)
  const started = Date.now()
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < cases.length) {
      const c = cases[next++]!
      byFamily.set(c.family, (byFamily.get(c.family) ?? 0) + 1)
      const answer = await send(port, requestBytes(c), c.method === 'HEAD')
      if (answer === 'hang') { problems.hangs.push(describe(c)); continue }
      // Malformed HTTP may be answered by closing, and so is CONNECT (Node closes it when nobody handles tunnels).
      if (answer === 'closed') { if (c.family !== 'raw-http' && c.method !== 'CONNECT') problems.unanswered.push(describe(c)); continue }
      if (answer.status >= 500) problems.serverErrors.push(`${answer.status} ← ${describe(c)}: ${answer.body.slice(0, 120)}`)
      if (c.expect !== undefined && !c.expect.includes(answer.status)) problems.unexpected.push(`${answer.status} (want ${c.expect.join('/')}) ← ${describe(c)}`)
      if (answer.status >= 400 && answer.status < 500 && c.method !== 'HEAD' && c.raw !== NO_HOST) {
        let body: Record<string, unknown> | null = null
        try { body = JSON.parse(answer.body) as Record<string, unknown> } catch { /* judged below */ }
        const shaped = body !== null && body.statusCode === answer.status && typeof body.error === 'string' && typeof body.message === 'string' &&
          Object.keys(body).every((k) => ['statusCode', 'error', 'message'].includes(k)) && (answer.headers['content-type'] ?? '').startsWith('application/json')
        if (!shaped) problems.notJson.push(`${answer.status} ${answer.body.slice(0, 100)} ← ${describe(c)}`)
      }
    }
  }))
  const seconds = (Date.now() - started) / 1000

  // After the run: a normal client is served as before, and no request reached Object.prototype.
  const again = await call(base, 'POST', '/post_server/posts', { user_id: user.user_id, title: 'after the fuzz', content: 'still fine' })
  const read = await call(base, 'GET', `/get_server/posts/${created.post_id}`, undefined, auth)
  const list = await call(base, 'GET', '/get_server/posts?limit=5', undefined, auth)
  const polluted = Object.getOwnPropertyNames(Object.prototype).sort().join() !== prototypeBefore.join() || ({} as Record<string, unknown>).polluted !== undefined

  figure(t, 'fuzz', `cases ${CASES} in ${seconds.toFixed(1)} s (seed ${SEED}; ${[...byFamily].map(([f, n]) => `${f} ${n}`).join(', ')}), ` +
    `5xx ${problems.serverErrors.length}, hangs ${problems.hangs.length}, 4xx without the JSON error body ${problems.notJson.length}, ` +
    `wrong status ${problems.unexpected.length}; after the run a normal request ${again.status === 201 && read.status === 200 ? 'works' : 'FAILS'}`)
  t.same(problems.serverErrors, [], '5xx 0')
  t.same(problems.hangs, [], 'hangs 0')
  t.same(problems.unanswered, [], 'every well-formed request got a response')
  t.same(problems.notJson, [], 'every 4xx is a JSON { statusCode, error, message }')
  t.same(problems.unexpected, [], 'injection, extra keys, broken bodies, non-JSON types and oversize bodies get their exact status')
  t.equal(again.status, 201, 'a normal write works after the run')
  t.equal(read.status, 200, 'a normal read works after the run')
  t.equal(list.status, 200, 'and the list')
  t.notOk(polluted, 'Object.prototype is untouched')
})

t.test('strings that are not well-formed Unicode (lone surrogates) are refused, not stored as something else', async (t) => {
  // JSON may escape a lone surrogate (\ud800); BSON is UTF-8, so MongoDB keeps U+FFFD instead while the 201, the event
  // and the cache carry the surrogate: the store and the cache disagree, and two different names collide (409).
  const app = await build(t, { role: 'write' })
  const statuses: number[] = []
  for (const body of ['{"username":"lone\\ud800"}', '{"username":"lone\\udbff"}', '{"username":"lone\\udc00x"}']) {
    statuses.push((await app.inject({ method: 'POST', url: '/post_server/users', headers: { 'content-type': 'application/json' }, payload: body })).statusCode)
  }
  t.same(statuses, [400, 400, 400], 'each is a 400')
})

t.test('strings holding U+0000 are refused, in every text field, and nothing is stored', async (t) => {
  // MongoDB keeps NUL in a string but PostgreSQL-backed stores (FerretDB on PostgreSQL, the local one) cannot: the
  // same 400 everywhere instead of a 201 in production and a 500 locally.
  const app = await build(t, { role: 'write' })
  const json = { 'content-type': 'application/json' }
  const username = `nul${Date.now()}`
  const replies = [
    await app.inject({ method: 'POST', url: '/post_server/users', headers: json, payload: `{"username":"${username}\\u0000x"}` }),
    await app.inject({ method: 'POST', url: '/post_server/users', headers: json, payload: '{"username":"\\u0000"}' })
  ]
  const user = await app.inject({ method: 'POST', url: '/post_server/users', headers: json, payload: { username } })
  t.equal(user.statusCode, 201, 'the same name without the NUL was never taken')
  const userId = (user.json<{ user_id: number }>()).user_id
  for (const fields of [{ title: 'a\u0000b', content: 'c' }, { title: 't', content: '\u0000' }]) {
    replies.push(await app.inject({ method: 'POST', url: '/post_server/posts', headers: json, payload: { user_id: userId, ...fields } }))
  }
  t.same(replies.map((r) => r.statusCode), [400, 400, 400, 400], 'each is a 400')
  t.match(replies[0]!.json(), { statusCode: 400, message: 'body/username: must not contain U+0000 (NUL)' })
  t.match(replies[3]!.json(), { message: 'body/content: must not contain U+0000 (NUL)' })
})
