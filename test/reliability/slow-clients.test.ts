// Slow and huge clients over raw TCP: a body over BODY_LIMIT_BYTES is a 413 without the server reading it all; clients
// trickling a body or headers byte by byte do not stall anyone else and are cut off by the request timeout; an idle
// connection is closed by the connection timeout. The production values (30 s, 10 s) are asserted as configured; the
// cut-offs are shown on this test's own server with both shortened, since waiting 30 s does not fit CI. Figures.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { build, call, figure, serve, sleep } from '../helper/index.js'

const SLOW_CLIENTS = 30
const SHORT_REQUEST_TIMEOUT_MS = 2000
const SHORT_HEADERS_TIMEOUT_MS = 1000
const SHORT_IDLE_TIMEOUT_MS = 1500

interface Raw { socket: net.Socket, received: () => string, closedAt: Promise<number> }

/** A raw connection that records what the server sends and when it closes the connection. */
async function connect (port: number): Promise<Raw> {
  const socket = net.connect(port, '127.0.0.1')
  let received = ''
  socket.on('data', (d: Buffer) => { received += d.toString('latin1') })
  socket.on('error', () => {}) // the server cutting us off may reset the connection
  const closedAt = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())))
  await once(socket, 'connect')
  return { socket, received: () => received, closedAt }
}

const status = (response: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)
const body = (response: string): unknown => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))

t.test('huge bodies: over BODY_LIMIT_BYTES is a 413, answered without reading the rest', async (t) => {
  const app = await build(t, { role: 'write' }, { BODY_LIMIT_BYTES: '65536' })
  const { port } = await serve(app)
  const limit = app.config.bodyLimit
  t.equal(app.initialConfig.bodyLimit, limit, 'the server enforces BODY_LIMIT_BYTES')

  // Declared too big: refused from the header alone, the body never sent.
  const declared = await connect(port)
  let started = Date.now()
  declared.socket.write(`POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 ** 3}\r\n\r\n{"username":"`)
  await Promise.race([declared.closedAt, sleep(3000)])
  const declaredMs = Date.now() - started
  t.equal(status(declared.received()), 413, 'a declared 10 GiB body: 413')
  t.match(body(declared.received()), { statusCode: 413, error: 'Payload Too Large' })

  // Streamed without a length: cut once the limit is passed, while the client is still sending.
  const streamed = await connect(port)
  started = Date.now()
  streamed.socket.write('POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
  let sent = 0
  while (streamed.received() === '' && Date.now() - started < 5000 && !streamed.socket.destroyed) {
    const chunk = 'a'.repeat(16 * 1024)
    streamed.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
    sent += chunk.length
    await sleep(5)
  }
  await Promise.race([streamed.closedAt, sleep(2000)])
  const streamedMs = Date.now() - started
  t.equal(status(streamed.received()), 413, 'a chunked body growing past the limit: 413')
  t.ok(sent < limit * 4, `answered after ${sent} bytes, not after the whole stream`)

  // At the limit it is read and judged on its content.
  const atLimit = await call(`http://127.0.0.1:${port}`, 'POST', '/post_server/users', { username: 'x'.repeat(limit - 20) })
  t.equal(atLimit.status, 400, 'a body within the limit is read and validated (too long a username: 400, not 413)')
  figure(t, 'huge-bodies', `limit ${limit} bytes: declared 10 GiB refused in ${declaredMs} ms, streamed refused after ${sent} bytes in ${streamedMs} ms`)
  t.ok(declaredMs < 2000 && streamedMs < 3000, 'both promptly')
})

t.test('the configured timeouts: 30 s per request, 10 s idle, checked often enough to hold', async (t) => {
  const app = await build(t, { role: 'read' })
  const server = app.server as typeof app.server & { connectionsCheckingInterval: number }
  t.equal(app.initialConfig.connectionTimeout, 10_000, 'connectionTimeout 10 s')
  t.equal(server.requestTimeout, 30_000, 'requestTimeout 30 s, on the HTTP server')
  t.equal(server.timeout, 10_000, 'idle sockets time out after 10 s')
  // Node sweeps for expired requests every connectionsCheckingInterval (30 s by default: a 30 s timeout would fire
  // after 30 to 60 s), and cuts a body still arriving only at the later of headersTimeout (60 s by default) and
  // requestTimeout; src/app.ts sets both so that 30 s holds.
  t.ok(server.connectionsCheckingInterval <= 1000, `expiry checked every ${server.connectionsCheckingInterval} ms`)
  t.ok(server.headersTimeout <= server.requestTimeout, `headers within ${server.headersTimeout} ms, no later than the request timeout`)
})

t.test('slow clients: 30 trickling a body or headers do not stall others, and the request timeout cuts them off', async (t) => {
  const app = await build(t, { role: 'read,write' })
  // Shortened on this test's own server (before listening, when Node reads them): same mechanism, bounded time.
  const server = app.server as typeof app.server & { connectionsCheckingInterval: number }
  server.requestTimeout = SHORT_REQUEST_TIMEOUT_MS
  server.headersTimeout = SHORT_HEADERS_TIMEOUT_MS // as in production: no later than the request timeout
  server.connectionsCheckingInterval = 250
  server.timeout = SHORT_IDLE_TIMEOUT_MS
  const { base, port } = await serve(app)

  // Half trickle a body after honest headers, half trickle the headers themselves (slowloris); one byte per 200 ms
  // keeps each connection busy, so only the request timeout can end it.
  const slow = await Promise.all(Array.from({ length: SLOW_CLIENTS }, async () => await connect(port)))
  const startedAt = Date.now()
  const requestText = (i: number): string => i % 2 === 0
    ? 'POST /post_server/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n'
    : 'GET /get_server/posts HTTP/1.1\r\nHost: x\r\nX-Slow: '
  slow.forEach((c, i) => c.socket.write(requestText(i)))
  const state = { trickling: true, allClosed: false }
  const trickle = (async () => {
    while (state.trickling) {
      for (const c of slow) if (!c.socket.destroyed) c.socket.write('a')
      await sleep(200)
    }
  })()
  const idle = await connect(port)

  // Meanwhile an ordinary client: reads and writes, one after another, each prompt, until every slow one is gone.
  Promise.all(slow.map(async (c) => await c.closedAt)).then(() => { state.allClosed = true }, () => {})
  const latencies: number[] = []
  const failures: string[] = []
  for (let i = 0; !state.allClosed && Date.now() - startedAt < SHORT_REQUEST_TIMEOUT_MS * 3; i++) {
    const res = i % 2 === 0
      ? await call(base, 'POST', '/post_server/users', { username: `prompt${i}` })
      : await call(base, 'GET', '/get_server/posts?limit=5')
    latencies.push(res.ms)
    if (res.status !== 201 && res.status !== 200) failures.push(`${i}: ${res.status}`)
  }
  const closed = await Promise.all(slow.map(async (c) => await Promise.race([c.closedAt, sleep(100).then(() => 0)])))
  state.trickling = false
  await trickle
  const idleClosed = await Promise.race([idle.closedAt, sleep(SHORT_IDLE_TIMEOUT_MS * 3).then(() => 0)])

  const cutAfter = (kind: number): number[] => closed.filter((_, i) => i % 2 === kind).map((at) => at === 0 ? Infinity : at - startedAt)
  const [bodies, headers] = [cutAfter(0), cutAfter(1)]
  const answered408 = slow.filter((c) => status(c.received()) === 408 && (body(c.received()) as { statusCode: number }).statusCode === 408).length
  const slowest = Math.max(...latencies)
  const span = (ms: number[]): string => `${Math.min(...ms)}-${Math.max(...ms)} ms`
  figure(t, 'slow-clients', `${SLOW_CLIENTS} slow clients cut off: body tricklers after ${span(bodies)} (request timeout ` +
    `${SHORT_REQUEST_TIMEOUT_MS} ms here, 30 s in production), header tricklers after ${span(headers)} (headers timeout ` +
    `${SHORT_HEADERS_TIMEOUT_MS} ms here, 10 s in production), ${answered408} answered 408; meanwhile ${latencies.length} ordinary ` +
    `requests, slowest ${slowest} ms; idle connection closed after ${idleClosed === 0 ? 'never' : idleClosed - startedAt} ms`)
  const within = (ms: number[], limit: number): boolean => ms.every((m) => m >= limit - 100 && m < limit + 1000)
  t.same(failures, [], 'every ordinary request succeeded')
  t.ok(slowest < 1000, `no ordinary request was stalled by the slow ones (slowest ${slowest} ms)`)
  t.ok(within(bodies, SHORT_REQUEST_TIMEOUT_MS), 'every body trickler was cut off by the request timeout, not before')
  t.ok(within(headers, SHORT_HEADERS_TIMEOUT_MS), 'every header trickler by the headers timeout, not before')
  t.equal(answered408, SLOW_CLIENTS, 'each told so with a JSON 408')
  t.ok(idleClosed !== 0 && idleClosed - startedAt < SHORT_IDLE_TIMEOUT_MS + 1500, 'an idle connection is closed by the connection timeout')
})
