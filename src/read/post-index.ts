// The Redis index behind the newest-first post list: a sorted set of post ids scored by id. The consumer adds each
// post as its events land; when the set is cold (never built, evicted, or built on another Redis instance: restarted,
// failed over) one rebuild at a time refills it from MongoDB while pages are answered from MongoDB directly. With the
// near cache on, a page's ids are kept in process memory until the index changes (near-cache.ts).
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Db } from 'mongodb'
import type { ReadMetrics } from './read-through.js'
import { allPostIds } from '../store/read.js'
import { POST_INDEX_KEY, POST_INDEX_LOCK_KEY, postIndexReady } from '../cache/keys.js'
import { parseRunId, RedisInstance } from '../cache/instance.js'
import type { NearCache } from '../cache/near-cache.js'
import { defineReadScripts } from '../cache/read-scripts.js'
import { SingleFlight } from '../shared/single-flight.js'
import { timed } from '../shared/timed.js'

/** How long a rebuild may hold the cross-process lock before another replica may try (it then only repeats work). */
const REBUILD_LOCK_MS = 120_000
const ZADD_CHUNK = 1000

/** A page of ids, and whether they came from process memory (the near cache) or from Redis. */
export interface IndexPage { ids: readonly number[], near: boolean }

export class PostIndex {
  private readonly rebuilds = new SingleFlight<'rebuild', boolean>()
  private readonly instance: RedisInstance

  constructor (private readonly redis: Redis, private readonly db: Db, private readonly log: FastifyBaseLogger,
    private readonly metrics: ReadMetrics, private readonly near: NearCache | null = null) {
    defineReadScripts(redis) // once per client, not on every page
    this.instance = new RedisInstance(redis)
  }

  /**
   * Up to count post ids below `before` (all when undefined), newest first, or null when the index is cold (a
   * rebuild is then started in the background). O(log N + count): the cost does not grow with the number of posts.
   * Throws when Redis fails.
   */
  async page (count: number, before?: number): Promise<IndexPage | null> {
    const key = `${count}:${before ?? ''}`
    const kept = this.near?.page(key)
    if (kept !== undefined) return { ids: kept, near: true }
    const ticket = this.near?.pageBegin() ?? null
    const max = before === undefined ? '+inf' : `(${before}`
    // One script: the ready mark of this very instance and the range in one atomic command (read-scripts.ts). The run
    // id is read once per connection: a Redis restarted or failed over is another instance, whose index is cold until
    // rebuilt, however much of the set (and of an older mark) it kept.
    const ready = postIndexReady(await this.instance.id())
    const range = await timed(this.metrics.redisDuration, 'index_page', async () =>
      await this.redis.postboardIndexPage(POST_INDEX_KEY, ready, max, count))
    if (range === null) {
      this.startRebuild()
      return null
    }
    const ids = range.map(Number)
    if (ticket !== null) this.near!.pageEnd(ticket, key, ids)
    return { ids, near: false }
  }

  /** Rebuilds in the background; failures are logged and the next cold page tries again. */
  startRebuild (): void {
    this.rebuild().catch((err: unknown) => { this.log.warn({ err }, 'post index rebuild failed; lists read MongoDB until it succeeds') })
  }

  /**
   * Adds every post id from MongoDB, then marks the set ready. One per process (single flight) and one across
   * processes (a lock key); false when another rebuild holds the lock. The consumer may add ids meanwhile: the result
   * is the union, so a post created after the MongoDB scan began is still in the set once its event lands.
   */
  async rebuild (): Promise<boolean> {
    return await this.rebuilds.do('rebuild', async () => {
      const token = randomUUID()
      if (await this.redis.set(POST_INDEX_LOCK_KEY, token, 'PX', REBUILD_LOCK_MS, 'NX') !== 'OK') return false
      this.metrics.listRebuilds.inc()
      const started = Date.now()
      try {
        // Fresh, not the cached one: the mark must name the instance the fill below writes into.
        const runId = parseRunId(await this.redis.info('server'))
        const scanned = await this.fill()
        // Checked and marked in one step (read-scripts.ts): a restart, failover or eviction during the scan would leave
        // holes the mark must not vouch for; the next cold page retries.
        const marked = await this.redis.postboardIndexMark(POST_INDEX_KEY, runId, scanned, postIndexReady(runId))
        /* c8 ignore next -- needs Redis to restart, fail over or evict the index while the rebuild is scanning */
        if (marked !== 1) throw new Error('post index lost entries during rebuild')
        this.log.info({ posts: scanned, ms: Date.now() - started }, 'post index rebuilt from MongoDB')
        return true
      } finally {
        // Only our own lock: a rebuild slower than the lock's lifetime must not release a later holder's. (Check then
        // delete is not atomic, but the gap is one round trip at the end of a two-minute lease, and losing it costs
        // only a repeated rebuild.)
        if (await this.redis.get(POST_INDEX_LOCK_KEY).catch(() => null) === token) await this.redis.del(POST_INDEX_LOCK_KEY).catch(() => {})
      }
    })
  }

  /** Settles when no rebuild runs in this process; for shutdown. */
  async idle (): Promise<void> {
    await this.rebuilds.idle()
  }

  private async fill (): Promise<number> {
    let scanned = 0
    let chunk: number[] = []
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return
      const members = chunk.flatMap((id) => [id, String(id)])
      chunk = []
      await this.redis.zadd(POST_INDEX_KEY, ...members)
    }
    await timed(this.metrics.mongoDuration, 'index_rebuild', async () => {
      for await (const id of allPostIds(this.db)) {
        chunk.push(id)
        scanned++
        if (chunk.length >= ZADD_CHUNK) await flush()
      }
    })
    await flush()
    return scanned
  }
}
