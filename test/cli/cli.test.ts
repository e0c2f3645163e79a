// The executable: bad settings exit 2 with one line naming them, before connecting anywhere; a role started as a
// real process serves only its routes over the network; `token` prints only a token.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { decodeJwt } from 'jose'
import { dropNamespace, isolatedEnv, ROOT, type Tap } from '../helper/index.js'
import { loadConfig } from '../../src/config.js'

const CLI = ['--import', 'tsx', `${ROOT}/src/cli.ts`]

async function run (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  return { code, stdout, stderr }
}

t.test('bad settings: exit 2, one line naming the value, nothing connected', async (t) => {
  // Unreachable addresses prove no connection is attempted: a connect would hang or fail differently.
  const unreachable = { REDIS_URL: 'redis://10.255.255.1:1', MONGODB_URL: 'mongodb://10.255.255.1:1' }
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--role', 'reader'], {}, /^postboard: --role: unknown role 'reader'/],
    [['--role', 'read', '--port', 'http'], {}, /^postboard: --port: expected a whole number from 0 to 65535, got 'http'$/],
    [['--role', 'read'], { KAFKA_BROKERS: 'nope' }, /^postboard: KAFKA_BROKERS: expected host:port/],
    [['--role', 'read'], { CACHE_TTL_SECONDS: '-5' }, /^postboard: CACHE_TTL_SECONDS: /],
    [['--role', 'write', '--cache-update', 'never'], {}, /^postboard: --cache-update: expected one of events, write-through/]
  ]
  for (const [args, env, message] of cases) {
    const started = Date.now()
    const r = await run(args, { ...unreachable, ...env })
    t.equal(r.code, 2, `${args.join(' ')} exits 2`)
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
    t.match(r.stderr.trim(), message)
    t.ok(Date.now() - started < 15_000, 'fails fast')
  }
  const unknownFlag = await run(['--rol', 'read'])
  t.not(unknownFlag.code, 0)
  t.match(unknownFlag.stderr, /unknown option '--rol'/)
})

t.test('token prints only a token for the user', async (t) => {
  const r = await run(['token', '--user', '42', '--ttl', '15m'])
  t.equal(r.code, 0)
  const lines = r.stdout.trim().split('\n')
  t.equal(lines.length, 1)
  const claims = decodeJwt(lines[0]!)
  t.equal(claims.sub, '42')
  t.equal(claims.iss, 'postboard')
  t.equal(claims.aud, 'postboard-api')
  t.ok(claims.exp! - claims.iat! === 900, 'lifetime is the --ttl')
  t.equal((await run(['token', '--user', 'abc'])).code, 1, 'commander rejects a non-numeric user')
  const badTtl = await run(['token', '--user', '1', '--ttl', 'forever'])
  t.equal(badTtl.code, 2)
  t.match(badTtl.stderr, /--ttl: expected a duration/)
})

async function serve (t: Tap, role: string): Promise<{ base: string, child: ChildProcess }> {
  const env = isolatedEnv({ LOG_LEVEL: 'info' })
  t.teardown(async () => { await dropNamespace(loadConfig({ role }, env)) })
  const child = spawn(process.execPath, [...CLI, '--role', role, '--port', '0'], { cwd: ROOT, env: { ...process.env, ...env } })
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  })
  let out = ''
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m !== null) resolve(m[1]!)
    })
    child.on('exit', (code) => reject(new Error(`exited ${String(code)}: ${out}`)))
  })
  return { base, child }
}

t.test('--role=read over the network: reads answer, writes 404', async (t) => {
  const { base } = await serve(t, 'read')
  t.equal((await fetch(`${base}/get_server/posts`)).status, 200)
  const write = await fetch(`${base}/post_server/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"x"}' })
  t.equal(write.status, 404)
  t.equal((await fetch(`${base}/health/ready`)).status, 200)
})

t.test('--role=write over the network: writes answer, reads 404; SIGTERM exits cleanly', async (t) => {
  const { base, child } = await serve(t, 'write')
  const write = await fetch(`${base}/post_server/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"net"}' })
  t.equal(write.status, 201)
  t.equal((await fetch(`${base}/get_server/posts`)).status, 404)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, 'graceful shutdown exits 0')
})
