// Identity under load through the stack's real Lambda emulator (which takes one invoke at a time and panics on a
// second): read replicas served cached tokens mixed with a share of tokens never seen, each of which costs an invoke.
// Prints, per scenario, requests/s, latency, 200s and 503s, invokes, and emulator crashes (its restart loop's lines).
// Run with the stack up (npm run stack -- up) and built (npm run build):
//   node --import tsx bench/identity-load.ts [seconds=8] [connections=32]
import autocannon from 'autocannon'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, startServer, type Server } from './lib/processes.js'
import { mintToken } from '../src/identity/token.js'

const seconds = Number(process.argv[2] ?? 8)
const connections = Number(process.argv[3] ?? 32)
const stackDir = process.env.POSTBOARD_STACK_DIR ?? join(ROOT, '.stack')
const settings = { secret: readFileSync(join(stackDir, 'token-secret'), 'utf8').trim(), issuer: 'postboard', audience: 'postboard-api' }
const env = {
  LOG_LEVEL: 'warn',
  IDENTITY_MODE: 'lambda',
  REDIS_URL: `redis://127.0.0.1:${process.env.STACK_REDIS_PORT ?? 6380}`,
  MONGODB_URL: `mongodb://127.0.0.1:${process.env.STACK_MONGO_PORT ?? 27018}`,
  KAFKA_BROKERS: `127.0.0.1:${process.env.STACK_KAFKA_PORT ?? 9092}`,
  LAMBDA_ENDPOINT: `http://127.0.0.1:${process.env.STACK_LAMBDA_PORT ?? 9001}`
}
const basePort = Number(process.env.BENCH_PORT ?? 30310)

const crashes = (): number => {
  try { return readFileSync(join(stackDir, 'log', 'lambda.log'), 'utf8').split('emulator exited').length - 1 } catch { return 0 }
}

async function invokes (servers: Server[]): Promise<number> {
  let n = 0
  for (const s of servers) {
    const text = await (await fetch(`${s.url}/metrics`)).text()
    n += Number(/^pb_identity_invoke_duration_seconds_count (\S+)$/m.exec(text)?.[1] ?? 0)
  }
  return n
}

async function scenario (name: string, replicas: number, newShare: number): Promise<void> {
  const servers = await Promise.all(Array.from({ length: replicas }, async (_, i) =>
    await startServer(['dist/src/cli.js', '--role=all', '--port', String(basePort + i)], env, basePort + i)))
  try {
    const created = await (await fetch(`${servers[0]!.url}/post_server/users`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `load${Date.now()}` })
    })).json() as { user_id: number }
    const path = `/get_server/users/${created.user_id}`
    const cached = await Promise.all(Array.from({ length: 50 }, async (_, i) => await mintToken(settings, String(created.user_id), 3600 + i)))
    // Warm: every cached token verified once on every replica, one at a time.
    for (const s of servers) for (const token of cached) await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
    const fresh = await Promise.all(Array.from({ length: 20_000 }, async (_, i) => await mintToken(settings, String(created.user_id), 7200 + i)))
    let nextFresh = 0
    let n = 0
    const header = (): string => {
      n++
      const isNew = newShare > 0 && n % Math.round(1 / newShare) === 0 && nextFresh < fresh.length
      return `Bearer ${isNew ? fresh[nextFresh++]! : cached[n % cached.length]!}`
    }
    const [crashesBefore, invokesBefore] = [crashes(), await invokes(servers)]
    const results = await Promise.all(servers.map(async (s) => await autocannon({
      url: s.url + path,
      connections: Math.max(1, Math.floor(connections / replicas)),
      duration: seconds,
      timeout: 10,
      requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: header() } }) }]
    })))
    const sum = (pick: (r: autocannon.Result) => number): number => results.reduce((a, r) => a + pick(r), 0)
    const code = (c: string): number => sum((r) => (r.statusCodeStats as Record<string, { count: number } | undefined>)[c]?.count ?? 0)
    const p99 = Math.max(...results.map((r) => r.latency.p99))
    const p50 = Math.max(...results.map((r) => r.latency.p50))
    console.log(`${name}: ${sum((r) => r.requests.average).toFixed(0)} req/s, p50 ${p50} ms, p99 ${p99} ms, ` +
      `200 ${code('200')}, 503 ${code('503')}, other ${sum((r) => r.requests.total) - code('200') - code('503')}, ` +
      `errors ${sum((r) => r.errors + r.timeouts)}, new tokens ${nextFresh}, invokes ${await invokes(servers) - invokesBefore}, ` +
      `emulator crashes ${crashes() - crashesBefore}`)
  } finally {
    await Promise.all(servers.map(async (s) => { await s.stop() }))
  }
}

await scenario('1 replica, cached tokens only', 1, 0)
await scenario('1 replica, 1% new tokens', 1, 0.01)
await scenario('1 replica, 10% new tokens', 1, 0.1)
await scenario('2 replicas sharing the emulator, 1% new tokens', 2, 0.01)
await scenario('2 replicas sharing the emulator, 10% new tokens', 2, 0.1)
process.exit(0)
