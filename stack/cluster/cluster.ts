// `npm run cluster -- up|status|kill|start|logs|down`: the compose topology as local processes on the local stack,
// N replicas per role behind nginx run from compose's own routing file (docs/operations.md, Scaling each role).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Command } from 'commander'
import { composeCounts, composeFlags, parseCount, parsePort, plan, type Replica, type Role } from './plan.js'
import { Replicas } from './replicas.js'
import { alive, router } from './router.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIR = join(process.env.POSTBOARD_STACK_DIR ?? join(ROOT, '.stack'), 'cluster')
const STATE = join(DIR, 'cluster.json')
const READY_TIMEOUT_MS = 120_000

interface Saved { port: number, replicas: Replica[] }

const say = (line: string): void => { process.stdout.write(`[cluster] ${line}\n`) }

function saved (): Saved {
  if (!existsSync(STATE)) throw new Error('no cluster here yet: npm run cluster -- up')
  return JSON.parse(readFileSync(STATE, 'utf8')) as Saved
}

function replicaNamed (name: string): Replica {
  const r = saved().replicas.find((x) => x.name === name)
  if (r === undefined) throw new Error(`no replica ${name} (see npm run cluster -- status)`)
  return r
}

async function up (opts: { read?: string, write?: string, consumer?: string, port?: string }): Promise<void> {
  const defaults = composeCounts(ROOT)
  const count = (role: Role, min: number): number => opts[role] === undefined ? defaults[role] : parseCount(opts[role], role, min)
  const port = parsePort(opts.port ?? '8080')
  const counts = { read: count('read', 1), write: count('write', 1), consumer: count('consumer', 0) }
  mkdirSync(DIR, { recursive: true })
  const wanted = plan(port, counts, composeFlags(ROOT))
  const procs = new Replicas(ROOT, DIR)
  // A cluster already up on other counts: replicas it no longer wants stop first.
  if (existsSync(STATE)) {
    for (const old of saved().replicas) {
      if (!wanted.some((w) => w.name === old.name && w.port === old.port)) { say(`stopping ${old.name}`); await procs.stop(old) }
    }
  }
  say('local stack'); execFileSync('bash', [join(ROOT, 'stack/stack.sh'), 'up'], { stdio: 'inherit' })
  installRouter()
  say('building'); execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' })
  writeFileSync(STATE, JSON.stringify({ port, replicas: wanted } satisfies Saved, null, 2))
  for (const r of wanted) say(`${r.name} pid ${procs.start(r)} on http://127.0.0.1:${r.port}`)
  const deadline = Date.now() + READY_TIMEOUT_MS
  const pending = new Set(wanted.map((r) => r.name))
  while (pending.size > 0) {
    for (const r of wanted.filter((w) => pending.has(w.name))) {
      const state = await procs.state(r)
      if (state === 'ready') { pending.delete(r.name); say(`${r.name} ready`) }
      if (state === 'down') throw new Error(`${r.name} exited while starting; see npm run cluster -- logs ${r.name}`)
    }
    if (pending.size > 0 && Date.now() > deadline) throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s: ${[...pending].join(', ')}`)
    if (pending.size > 0) await sleep(250)
  }
  router(ROOT, DIR, port, wanted).start()
  say(`router on http://127.0.0.1:${port} (/get_server -> ${counts.read} read, /post_server -> ${counts.write} write; ${counts.consumer} consumer)`)
}

/** nginx from Debian's package, installed with apt-get the first time as the stack's own servers are. */
function installRouter (): void {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' })
    return
  } catch {}
  say('installing nginx-light (apt-get)')
  execFileSync('bash', ['-c', `source ${join(ROOT, 'stack/lib.sh')} && as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx-light >/dev/null`], { stdio: 'inherit' })
}

async function status (): Promise<void> {
  const { port, replicas } = saved()
  const procs = new Replicas(ROOT, DIR)
  for (const r of replicas) process.stdout.write(`${r.name} ${procs.pidOf(r) ?? '-'} http://127.0.0.1:${r.port} ${await procs.state(r)}\n`)
  const pidFile = router(ROOT, DIR, port, replicas).pidFile
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : NaN
  const up = alive(pid) && await fetch(`http://127.0.0.1:${port}/router/health`, { signal: AbortSignal.timeout(2000) }).then((res) => res.ok, () => false)
  process.stdout.write(`router ${alive(pid) ? pid : '-'} http://127.0.0.1:${port} ${up ? 'ready' : 'down'}\n`)
}

async function down (): Promise<void> {
  const { port, replicas } = saved()
  router(ROOT, DIR, port, replicas).stop()
  const procs = new Replicas(ROOT, DIR)
  await Promise.all(replicas.map(async (r) => { await procs.stop(r) }))
  say('replicas and router stopped (the local stack keeps running: npm run stack -- down)')
}

const program = new Command().name('cluster').description('N replicas per role behind the router, on the local stack')
  .showHelpAfterError()
program.command('up').description('start (or resize) the cluster and wait until every replica is ready')
  .option('--read <n>', 'read replicas (default: compose.yaml)')
  .option('--write <n>', 'write replicas (default: compose.yaml)')
  .option('--consumer <n>', 'consumer replicas (default: compose.yaml)')
  .option('--port <port>', 'the router\'s port on 127.0.0.1', '8080')
  .action(up)
program.command('status').description('one line per process: name, pid, address, ready|starting|down').action(status)
program.command('kill').argument('<replica>', 'e.g. write.2').description('SIGKILL one replica')
  .action((name: string) => { if (!new Replicas(ROOT, DIR).kill(replicaNamed(name), 'SIGKILL')) throw new Error(`${name} is not running`) })
program.command('start').argument('<replica>', 'e.g. write.2').description('start one replica again on its port')
  .action((name: string) => { const r = replicaNamed(name); say(`${r.name} pid ${new Replicas(ROOT, DIR).start(r)}`) })
program.command('logs').argument('<replica>', 'e.g. read.1').description('print one replica\'s log')
  .action((name: string) => { process.stdout.write(readFileSync(new Replicas(ROOT, DIR).logOf(replicaNamed(name)), 'utf8')) })
program.command('down').description('stop the replicas and the router (not the stack)').action(down)

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`cluster: ${(err as Error).message}\n`)
  process.exit(1)
})
