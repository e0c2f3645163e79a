// The executable, connecting nowhere: bad settings exit 2 with one line naming them, before connecting anywhere;
// `token` prints only a token. (Roles served over the network are in cli.test.ts.)
import t from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt, jwtVerify } from 'jose'
import { ROOT } from '../helper/index.js'

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
    [['--role', 'write', '--cache-update', 'never'], {}, /^postboard: --cache-update: expected one of events, write-through/],
    [['--role', 'read'], { REDIS_URL: '', REDIS_URL_FILE: '/nonexistent/redis-url' }, /^postboard: REDIS_URL_FILE: cannot read \/nonexistent\/redis-url \(ENOENT\)$/],
    [['--role', 'write'], { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'app' }, /^postboard: KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM=scram-sha-512$/],
    [['--role', 'write'], { KAFKA_SSL: 'true', KAFKA_SSL_CA_PATH: '/nonexistent/ca.pem' }, /^postboard: KAFKA_SSL_CA_PATH: cannot read \/nonexistent\/ca\.pem \(ENOENT\)$/]
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

t.test('token prints only a token for the user, signed with the stack\'s per-machine secret', async (t) => {
  // A stack folder of the test's own, holding a secret as stack.sh generates it; no TOKEN_SECRET in the environment.
  const stackDir = mkdtempSync(join(tmpdir(), 'pb-stack-'))
  t.teardown(() => { rmSync(stackDir, { recursive: true, force: true }) })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(join(stackDir, 'token-secret'), `${secret}\n`)
  const stackEnv = { POSTBOARD_STACK_DIR: stackDir, TOKEN_SECRET: '' }
  const r = await run(['token', '--user', '42', '--ttl', '15m'], stackEnv)
  t.equal(r.code, 0)
  const lines = r.stdout.trim().split('\n')
  t.equal(lines.length, 1)
  await jwtVerify(lines[0]!, new TextEncoder().encode(secret))
  t.pass('signed with the generated secret')
  const claims = decodeJwt(lines[0]!)
  t.equal(claims.sub, '42')
  t.equal(claims.iss, 'postboard')
  t.equal(claims.aud, 'postboard-api')
  t.ok(claims.exp! - claims.iat! === 900, 'lifetime is the --ttl')
  t.equal((await run(['token', '--user', 'abc'])).code, 1, 'commander rejects a non-numeric user')
  const badTtl = await run(['token', '--user', '1', '--ttl', 'forever'])
  t.equal(badTtl.code, 2)
  t.match(badTtl.stderr, /--ttl: expected a duration/)
  rmSync(join(stackDir, 'token-secret'))
  const none = await run(['token', '--user', '1'], stackEnv)
  t.equal(none.code, 2, 'no secret anywhere: no token, and no published one to fall back on')
  t.match(none.stderr, /TOKEN_SECRET: not set/)
})
