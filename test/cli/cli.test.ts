// The executable as a real process against the stack: a role serves only its routes over the network, and SIGTERM
// exits cleanly. (Bad settings and `token`, which connect nowhere, are in cli.unit.test.ts.)
import t from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import { once } from 'node:events'
import { dropNamespace, isolatedEnv, ROOT, type Tap } from '../helper/index.js'
import { loadConfig } from '../../src/shared/config.js'

const CLI = ['--import', 'tsx', `${ROOT}/src/cli.ts`]

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

t.test('npx postboard, as the README runs it: the built executable mints a token', async (t) => {
  // npm runs a package's own bin file directly (its shebang), so the build leaves it executable.
  const { stdout } = await promisify(execFile)('npx', ['--no-install', 'postboard', 'token', '--user', '1', '--ttl', '1h'], { cwd: ROOT })
  t.match(stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/, 'one token, nothing else')
})
