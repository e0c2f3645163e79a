// Leases in Redis: at most one holder of a key across every process that shares the Redis, for a bounded time. The
// store holds one around each update of a document when the store's own updates are not atomic (FerretDB 1.x), so
// several write replicas cannot interleave two read-modify-writes of one document (docs/design.md, Store
// capabilities). A holder that dies leaves its lease to expire after ttlMs.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis, Result } from 'ioredis'
import { DocumentBusy } from '../shared/errors.js'
import { isRedisUnavailable } from './redis-errors.js'

// Takes every free lease of KEYS in one round trip; answers the 1-based positions of those taken.
const TAKE_MANY_SCRIPT = `
local taken = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'PX', ARGV[2], 'NX') then taken[#taken + 1] = i end
end
return taken
`

// Releases those of KEYS still held with this token, in one round trip: only if it is still ours, since a holder that
// outlived its lease must not release the next holder's.
const RELEASE_MANY_SCRIPT = `
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then released = released + redis.call('DEL', key) end
end
return released
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    postboardTakeLeases: (numKeys: number, ...keysThenTokenAndTtl: Array<string | number>) => Result<number[], Context>
    postboardReleaseLeases: (numKeys: number, ...keysThenToken: string[]) => Result<number, Context>
  }
}

export interface LeaseOptions {
  /** How long a lease lasts if its holder never releases it (a holder that died or stalled). */
  ttlMs: number
  /** How long a caller waits for a lease another process holds before giving up (503). */
  waitMs: number
  log: FastifyBaseLogger
}

export class RedisLeases {
  /** Whether Redis could not be asked last time: logged when it starts and when it ends. */
  private unreachable = false
  /** Tokens are this instance's random prefix and a counter: unique across processes, cheap to make. */
  private readonly tokenPrefix = randomBytes(6).toString('hex')
  private taken = 0

  constructor (private readonly redis: Redis, private readonly opts: LeaseOptions) {
    if (typeof (redis as Partial<Redis>).postboardTakeLeases !== 'function') {
      redis.defineCommand('postboardTakeLeases', { lua: TAKE_MANY_SCRIPT })
      redis.defineCommand('postboardReleaseLeases', { lua: RELEASE_MANY_SCRIPT })
    }
  }

  /**
   * Runs fn holding the leases of those keys that are free now, taken and released in one round trip each, and passes
   * it the keys it holds: a batch goes on with those and leaves the rest for later instead of waiting on each. While
   * Redis cannot be reached, fn gets every key (as hold runs fn without a lease).
   */
  async holdAvailable<T> (keys: string[], fn: (held: ReadonlySet<string>) => Promise<T>): Promise<T> {
    const leases = keys.map((k) => `lease:${k}`)
    const token = `${this.tokenPrefix}:${++this.taken}`
    let taken: number[]
    try {
      taken = await this.redis.postboardTakeLeases(leases.length, ...leases, token, this.opts.ttlMs)
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err
      this.noteUnreachable(err)
      return await fn(new Set(keys))
    }
    this.noteReachable()
    const held = new Set(taken.map((i) => keys[i - 1]!))
    if (held.size === 0) return await fn(held)
    try {
      return await fn(held)
    } finally {
      // Best effort, like hold's release: a lease left behind expires after ttlMs.
      const mine = taken.map((i) => leases[i - 1]!)
      await this.redis.postboardReleaseLeases(mine.length, ...mine, token).catch(() => 0)
    }
  }

  /**
   * Runs fn holding the key's lease. While Redis cannot be reached, fn runs without one (writes stay available; the
   * caller's in-process lock still orders this process's own updates) and the outage is logged.
   */
  async hold<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const lease = `lease:${key}`
    const token = `${this.tokenPrefix}:${++this.taken}`
    let acquired: boolean
    try {
      acquired = await this.acquire(lease, token)
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err
      this.noteUnreachable(err)
      return await fn()
    }
    this.noteReachable()
    if (!acquired) throw new DocumentBusy()
    try {
      return await fn()
    } finally {
      // Best effort: a lease that could not be released expires after ttlMs.
      await this.redis.postboardReleaseLeases(1, lease, token).catch(() => 0)
    }
  }

  private noteUnreachable (err: unknown): void {
    if (!this.unreachable) this.opts.log.warn({ err }, 'lease: redis unreachable; document updates are ordered within each replica only until it is back')
    this.unreachable = true
  }

  private noteReachable (): void {
    if (this.unreachable) this.opts.log.info('lease: redis reachable again; document updates are ordered across replicas')
    this.unreachable = false
  }

  /** Tries until the lease is ours or waitMs has passed, backing off from 1 ms to 50 ms between tries. */
  private async acquire (lease: string, token: string): Promise<boolean> {
    const { ttlMs, waitMs } = this.opts
    const giveUpAt = Date.now() + waitMs
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      if (await this.redis.set(lease, token, 'PX', ttlMs, 'NX') === 'OK') return true
      if (Date.now() + delay > giveUpAt) return false
      await sleep(delay)
    }
  }
}
