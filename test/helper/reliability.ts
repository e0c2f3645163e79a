// The reliability suite's tools (test/reliability/): roles as real processes, a fault that is always undone, HTTP
// over the network with a deadline, a seeded PRNG, FIGURE lines, and the cache-versus-store comparison.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { MongoClient, type Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { loadConfig, type Config } from '../../src/shared/config.js'
import { findPostVersioned, findUserVersioned } from '../../src/store/read.js'
import { ROOT, build, dropNamespace, isolatedEnv, stack, type Tap } from './app.js'
import { entryOf } from './data.js'
import { sleep, waitFor } from './wait.js'

/** Prints one result line of the suite ("FIGURE kafka-outage: accepted 60, converged 60, lost 0"). */
export function figure (t: Tap, name: string, text: string): void {
  t.comment(`FIGURE ${name}: ${text}`)
}

/** mulberry32: a tiny deterministic PRNG, so a failing storm or fuzz run can be replayed from its seed. */
export function prng (seed: number): { next: () => number, int: (n: number) => number, pick: <T>(items: readonly T[]) => T } {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return { next, int, pick: (items) => items[int(items.length)]! }
}

/**
 * A namespace of the test's own (isolatedEnv) that real processes (startRole) and in-process apps (appsOn) share,
 * dropped in teardown after both have stopped (tap runs teardowns last in, first out).
 */
export function namespace (t: Tap, role: string, extra: Record<string, string> = {}): { env: Record<string, string>, config: Config } {
  const env = isolatedEnv(extra)
  const config = loadConfig({ role }, env)
  t.teardown(async () => { await dropNamespace(config) })
  return { env, config }
}

/** count in-process apps (replicas) on config, ready, closed in teardown. */
export async function appsOn (t: Tap, config: Config, count = 1): Promise<FastifyInstance[]> {
  const apps: FastifyInstance[] = []
  for (let i = 0; i < count; i++) apps.push(await build(t, config))
  return apps
}

/** Listens on a free loopback port; the address to reach the app over the network. */
export async function serve (app: FastifyInstance): Promise<{ base: string, port: number }> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { base: `http://127.0.0.1:${port}`, port }
}

/** Stops a stack service for this test and brings it back in teardown, whatever the test did meanwhile. */
export async function outage (t: Tap, service: 'redis' | 'mongo' | 'kafka' | 'lambda'): Promise<void> {
  t.teardown(async () => { await stack('up', service) })
  await stack('down', service)
}

export interface Role {
  child: ChildProcess
  /** http://127.0.0.1:<port> of its HTTP server (every role serves health). */
  base: string
  /** The tail of its stdout and stderr, for failure messages. */
  output: () => string
  /** Sends signal and waits for the exit (SIGCONT first, so a paused process can act on it). */
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

const OUTPUT_TAIL = 64 * 1024

/**
 * Starts `postboard --role <role>` as a real process on a free port with env (an isolatedEnv), and resolves once it
 * logged "postboard ready". Teardown stops it (SIGTERM, then SIGKILL after 15 s) if the test has not.
 */
export async function startRole (t: Tap, role: string, env: Record<string, string>, args: string[] = []): Promise<Role> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli.ts`, '--role', role, '--port', '0', ...args],
    { cwd: ROOT, env: { ...process.env, ...env, LOG_LEVEL: 'info' } })
  let out = ''
  const keep = (d: Buffer): void => { out = (out + d.toString()).slice(-OUTPUT_TAIL) }
  child.stderr!.on('data', keep)
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGCONT')
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }
  t.teardown(async () => { await stop() })
  const base = await new Promise<string>((resolve, reject) => {
    let address: string | null = null
    child.stdout!.on('data', (d: Buffer) => {
      keep(d)
      address ??= /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? null
      if (address !== null && out.includes('"msg":"postboard ready"')) resolve(address)
    })
    child.on('exit', (code, signal) => reject(new Error(`${role} exited (${String(code ?? signal)}) before it was ready: ${out}`)))
  })
  return { child, base, output: () => out, stop }
}

export interface Reply { status: number, body: unknown, text: string, ms: number }

/** One request over the network, bounded by timeoutMs (status 0 and text 'timeout' or the error when it failed). */
export async function call (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Reply> {
  const started = Date.now()
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs)
    })
    const text = await res.text()
    let parsed: unknown = null
    try { parsed = JSON.parse(text) } catch { /* not JSON: the caller looks at text */ }
    return { status: res.status, body: parsed, text, ms: Date.now() - started }
  } catch (err) {
    return { status: 0, body: null, text: (err as Error).name === 'TimeoutError' ? 'timeout' : String(err), ms: Date.now() - started }
  }
}

/** Creates one user and `count` posts through the write API; returns the user's id and the post ids in order. */
export async function seedPosts (base: string, username: string, count: number, content: string): Promise<{ userId: number, postIds: number[] }> {
  const userId = ((await call(base, 'POST', '/post_server/users', { username })).body as { user_id: number }).user_id
  const postIds: number[] = []
  for (let i = 0; i < count; i++) {
    postIds.push(((await call(base, 'POST', '/post_server/posts', { user_id: userId, title: `p${i}`, content })).body as { post_id: number }).post_id)
  }
  return { userId, postIds }
}

/**
 * Waits until a client of its own can write to config's database: the store is back, not only its port (the stack's
 * `up` waits for FerretDB's port; its PostgreSQL behind it must answer too). Answers how long that took.
 */
export async function storeServesWrites (config: Config, timeoutMs = 60_000): Promise<number> {
  const started = Date.now()
  await waitFor('MongoDB to accept a write from a client of its own', async () => {
    const mongo = new MongoClient(config.mongoUrl, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000, socketTimeoutMS: 5000 })
    try {
      await mongo.db(config.mongoDatabase).collection('probe').insertOne({ at: new Date() })
      return true
    } finally {
      await mongo.close()
    }
  }, timeoutMs, 250)
  return Date.now() - started
}

/** Runs worker until stop() is called; stop resolves once its last call returned. */
export function loop (worker: () => Promise<void>): { stop: () => Promise<void> } {
  const state = { running: true }
  const done = (async () => { while (state.running) await worker() })()
  return { stop: async () => { state.running = false; await done } }
}

/** A test's own Redis (with the namespace's key prefix) and MongoDB handles, closed in teardown. */
export async function stores (t: Tap, config: Config): Promise<{ redis: Redis, db: Db }> {
  const redis = new Redis(config.redisUrl, { keyPrefix: config.redisKeyPrefix, maxRetriesPerRequest: 1 })
  redis.on('error', () => {}) // a test that stops Redis reads through this client once it is back
  const mongo = new MongoClient(config.mongoUrl, { serverSelectionTimeoutMS: 10_000 })
  await mongo.connect()
  t.teardown(async () => {
    redis.disconnect()
    await mongo.close()
  })
  return { redis, db: mongo.db(config.mongoDatabase) }
}

export interface Comparison {
  checked: number
  /** Cached at another version or with other data than MongoDB holds, or cached as absent while it exists. */
  stale: string[]
  /** Not cached at all (a consumer that applied every event leaves none). */
  missing: string[]
}

/** Compares every listed entity's cache entry with its MongoDB document. */
export async function compareCache (redis: Redis, db: Db, ids: { post?: number[], user?: number[] }): Promise<Comparison> {
  const out: Comparison = { checked: 0, stale: [], missing: [] }
  for (const type of ['post', 'user'] as const) {
    for (const id of ids[type] ?? []) {
      out.checked++
      const [entry, stored] = await Promise.all([
        entryOf(redis, type, id),
        type === 'post' ? findPostVersioned(db, id) : findUserVersioned(db, id)
      ])
      const name = `${type}:${id}`
      if (stored === null) throw new Error(`${name} is not in MongoDB`)
      if (entry === null) out.missing.push(name)
      else if (entry.v !== stored.version || entry.d !== JSON.stringify(stored.data)) out.stale.push(`${name} (cache v${entry.v}, store v${stored.version})`)
    }
  }
  return out
}

/** Polls until the comparison shows nothing stale or missing, or the deadline passes; returns the last comparison. */
export async function converged (redis: Redis, db: Db, ids: { post?: number[], user?: number[] }, timeoutMs: number): Promise<Comparison> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const result = await compareCache(redis, db, ids)
    if ((result.stale.length === 0 && result.missing.length === 0) || Date.now() > deadline) return result
    await sleep(250)
  }
}
