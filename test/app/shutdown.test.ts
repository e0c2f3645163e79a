// Shutdown and logs of the real executable: SIGTERM stops accepting but finishes the request in flight and exits 0; a
// fatal error in a background loop takes the same path and exits 1; logs are JSON lines with request ids and never
// carry a token, a password or the token secret. (The logger's options and censoring alone: shutdown.unit.test.ts.)
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { dropNamespace, isolatedEnv, ROOT, type Tap } from '../helper/index.js'
import { loadConfig } from '../../src/shared/config.js'
import { mintToken } from '../../src/identity/token.js'

type Line = Record<string, unknown> & { msg?: string, level?: number }

interface Proc { child: ChildProcess, base: string, lines: Line[], raw: () => string, waitFor: (test: (l: Line) => boolean) => Promise<Line> }

/** Starts `postboard` as a real process on a free port and collects its log lines. */
async function start (t: Tap, args: string[], extraEnv: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Proc> {
  const env = isolatedEnv({ LOG_LEVEL: 'info', ...extraEnv })
  t.teardown(async () => { await dropNamespace(loadConfig({ role: 'all' }, env)) })
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', `${ROOT}/src/cli.ts`, ...args, '--port', '0'],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  })
  let out = ''
  let err = ''
  const lines: Line[] = []
  const waiters: Array<{ test: (l: Line) => boolean, resolve: (l: Line) => void }> = []
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  child.stdout!.on('data', (d: Buffer) => {
    const text = d.toString()
    out += text
    for (const row of text.split('\n').filter((r) => r.trim() !== '')) {
      const line = JSON.parse(row) as Line // throws (and fails the test) on anything but a JSON line
      lines.push(line)
      for (const w of waiters.filter((w) => w.test(line))) w.resolve(line)
    }
  })
  const waitFor = async (test: (l: Line) => boolean): Promise<Line> => {
    const seen = lines.find(test)
    if (seen !== undefined) return seen
    return await new Promise<Line>((resolve, reject) => {
      waiters.push({ test, resolve })
      child.once('exit', (code) => { reject(new Error(`exited ${String(code)} first:\n${out}\n${err}`)) })
    })
  }
  const listening = await waitFor((l) => /^Server listening at http:\/\/127\.0\.0\.1:\d+$/.test(l.msg ?? ''))
  await waitFor((l) => l.msg === 'postboard ready')
  return { child, base: listening.msg!.replace('Server listening at ', ''), lines, raw: () => out + err, waitFor }
}

async function exitCode (child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const [code] = await once(child, 'exit') as [number | null]
  return code
}

t.test('SIGTERM: stop accepting, finish the request in flight, close, exit 0', async (t) => {
  // Every request logged (REQUEST_LOG=all), to follow this one's id from its first line to its last.
  const p = await start(t, ['--role', 'write'], { REQUEST_LOG: 'all' })
  const body = JSON.stringify({ username: 'in-flight' })
  const half = Math.floor(body.length / 2)
  // A POST whose body is only half sent: the request is in flight until the rest arrives.
  const req = http.request(`${p.base}/post_server/users`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
  })
  const response = once(req, 'response') as Promise<[http.IncomingMessage]>
  req.write(body.slice(0, half))
  const incoming = await p.waitFor((l) => l.msg === 'incoming request')
  t.match(incoming, { reqId: /\S/, req: { method: 'POST', url: '/post_server/users' } }, 'each request is logged with its id')

  p.child.kill('SIGTERM')
  await p.waitFor((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')
  let refused = false
  for (let i = 0; i < 40 && !refused; i++) {
    refused = await fetch(`${p.base}/health/live`).then(() => false, () => true)
    if (!refused) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(refused, 'new connections are refused once shutdown starts')
  t.equal(p.child.exitCode, null, 'the process waits for the request in flight')

  req.end(body.slice(half))
  const [res] = await response
  let text = ''
  for await (const chunk of res) text += String(chunk)
  t.equal(res.statusCode, 201, 'the request in flight completes')
  t.match(JSON.parse(text), { username: 'in-flight' })
  t.equal(await exitCode(p.child), 0, 'a signal exits 0')
  t.ok(p.lines.some((l) => l.msg === 'shut down cleanly'), 'every plugin closed')
  const completed = p.lines.find((l) => l.msg === 'request completed')
  t.equal(completed?.reqId, incoming.reqId, 'the request\'s lines share its id')
})

t.test('a fatal error in a background loop ends the process through the same path, exit 1', async (t) => {
  // Stands in for a loop (relay, consumer) whose error escapes: it is thrown out of band, as such loops rethrow.
  // The test says when over the IPC channel (a signal would not do: close-with-grace handles those as a shutdown).
  const loop = 'data:text/javascript,process.on("message",()=>setImmediate(()=>{throw new Error("background loop failed")}))'
  const p = await start(t, ['--role', 'consumer'], {}, ['--import', loop])
  p.child.send('fail')
  const fatal = await p.waitFor((l) => l.msg === 'fatal error; shutting down')
  t.equal(fatal.level, 60, 'logged at fatal')
  t.match(fatal, { err: { message: 'background loop failed', stack: /Error: background loop failed/ } })
  t.equal(await exitCode(p.child), 1, 'never silently: the process ends, non-zero')
  t.ok(p.lines.some((l) => l.msg === 'shut down cleanly'), 'after the same graceful close as a signal')
})

t.test('a port already taken: the boot fails fast, closes what it opened, exits non-zero', async (t) => {
  const taken = net.createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const { port } = taken.address() as net.AddressInfo
  const env = isolatedEnv({ LOG_LEVEL: 'info', IDENTITY_MODE: 'off' })
  t.teardown(async () => { await dropNamespace(loadConfig({}, env)) })
  const started = Date.now()
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli.ts`, '--role', 'write', '--port', String(port)],
    { cwd: ROOT, env: { ...process.env, ...env } })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  t.equal(await exitCode(child), 1)
  t.match(stderr, /^postboard: listen EADDRINUSE/m, 'says why in one line')
  t.ok(Date.now() - started < 30_000, 'without hanging on the clients it had opened')
})

t.test('logs never carry a token, a password or the token secret', async (t) => {
  const secret = 'ops-test-secret-0123456789-abcdefghijklmnop'
  const password = 'pw-in-the-redis-url-4711'
  const env = { TOKEN_SECRET: secret, LOG_LEVEL: 'trace', IDENTITY_MODE: 'local' }
  const config = loadConfig({}, isolatedEnv(env))
  const token = await mintToken(config.token, '7', 60)
  const redisPort = new URL(config.redisUrl).port
  const p = await start(t, ['--role', 'read'], { ...env, REDIS_URL: `redis://:${password}@127.0.0.1:${redisPort}` })
  const res = await fetch(`${p.base}/get_server/users/999999`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 404, 'the token was accepted and the read ran')
  const bad = await fetch(`${p.base}/get_server/users/1`, { headers: { authorization: `Bearer ${token}x` } })
  t.equal(bad.status, 401)
  p.child.kill('SIGTERM')
  t.equal(await exitCode(p.child), 0)
  const logs = p.raw()
  t.ok(p.lines.length > 5, 'it did log (at trace)')
  t.notOk(logs.includes(token), 'no token')
  t.notOk(logs.includes(password), 'no password from a connection string')
  t.notOk(logs.includes(secret), 'no token secret')
})
