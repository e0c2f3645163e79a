// Read-through cache for one entity type: Redis first; on a miss one MongoDB read per key per process (single
// flight), then a version-CAS fill. While Redis is unreachable every read goes to MongoDB (design invariant 3).
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { Db } from 'mongodb'
import type { EntityType } from '../events/event.js'
import { cacheFills, cacheLookups, casRejections, mongoDuration, redisDuration, singleFlightJoins } from '../metrics.js'
import type { Versioned } from '../store/read.js'
import { ABSENT_VERSION, casSet, jitteredTtl } from './cas.js'
import { entityKey } from './keys.js'
import { SingleFlight } from './single-flight.js'
import { timed } from './timed.js'

export type CacheWrite = typeof casSet

export interface ReadThroughOptions<T> {
  redis: Redis
  type: EntityType
  /** The MongoDB read for one id (through the pooled read client). */
  load: (id: number) => Promise<Versioned<T> | null>
  ttlSeconds: number
  negativeTtlSeconds: number
  log: FastifyBaseLogger
  /** How a fill is written: casSet. A seam for the test that holds a fill between its MongoDB read and its write. */
  write?: CacheWrite
}

type Lookup<T> = { state: 'hit', value: T } | { state: 'absent' } | { state: 'miss' } | { state: 'error' }

export class ReadThrough<T> {
  private readonly flight = new SingleFlight<number, T | null>()
  private readonly write: CacheWrite

  constructor (private readonly opts: ReadThroughOptions<T>) {
    this.write = opts.write ?? casSet
  }

  /** The entity, or null when it does not exist (possibly known from a negative entry). */
  async get (id: number): Promise<T | null> {
    const [value] = await this.getMany([id], true)
    return value ?? null
  }

  /**
   * Entities in the order asked, null where absent. trustAbsent=false re-reads ids cached as absent: the list index
   * says they exist, so a negative entry there is older than the create whose event has not landed yet.
   */
  async getMany (ids: number[], trustAbsent: boolean): Promise<Array<T | null>> {
    const { type } = this.opts
    const found = await this.lookup(ids)
    return await Promise.all(ids.map(async (id, i) => {
      const entry = found[i] ?? { state: 'error' as const }
      if (entry.state === 'hit') {
        cacheLookups.inc({ entity: type, result: 'hit' })
        return entry.value
      }
      if (entry.state === 'absent' && trustAbsent) {
        cacheLookups.inc({ entity: type, result: 'negative_hit' })
        return null
      }
      cacheLookups.inc({ entity: type, result: entry.state === 'error' ? 'error' : 'miss' })
      return await this.flight.do(id, async () => await this.loadAndFill(id), () => singleFlightJoins.inc({ entity: type }))
    }))
  }

  /** Settles when no MongoDB read or fill is running; for shutdown. */
  async idle (): Promise<void> {
    await this.flight.idle()
  }

  /** One pipelined round trip for all ids; a Redis failure makes every id an 'error' (answered from MongoDB). */
  private async lookup (ids: number[]): Promise<Array<Lookup<T>>> {
    const { redis, type, log } = this.opts
    let replies: Array<[Error | null, unknown]> | null
    try {
      // One id (every GET by id) skips the pipeline object: the profile of cached reads showed its cost.
      replies = await timed(redisDuration, 'lookup', async () => ids.length === 1
        ? [[null, await redis.hmget(entityKey(type, ids[0]!), 'v', 'd')]]
        : await redis.pipeline(ids.map((id) => ['hmget', entityKey(type, id), 'v', 'd'])).exec())
    } catch (err) { // a single-id lookup's failure (a pipeline reports failures per command, below)
      log.debug({ err }, 'cache lookup failed; reading MongoDB')
      return ids.map(() => ({ state: 'error' }))
    }
    return ids.map((_, i) => {
      const [err, reply] = replies?.[i] ?? [new Error('no reply'), null]
      if (err !== null) return { state: 'error' }
      const [v, d] = reply as [string | null, string | null]
      if (v === null || d === null) return { state: 'miss' }
      if (d === '') return { state: 'absent' }
      try {
        return { state: 'hit', value: JSON.parse(d) as T }
      } catch {
        return { state: 'miss' } // not written by this code; MongoDB answers until a newer version replaces it
      }
    })
  }

  /** The single-flight body: read MongoDB, then CAS-fill Redis (an absent id gets the short negative TTL). */
  private async loadAndFill (id: number): Promise<T | null> {
    const { redis, type, load, log, ttlSeconds, negativeTtlSeconds } = this.opts
    const found = await timed(mongoDuration, `find_${type}`, async () => await load(id))
    // Redis known down: answer from MongoDB without a fill attempt that can only fail.
    if (redis.status !== 'ready') return found?.data ?? null
    try {
      const stored = await timed(redisDuration, 'fill', async () => found === null
        ? await this.write(redis, entityKey(type, id), ABSENT_VERSION, '', jitteredTtl(negativeTtlSeconds))
        : await this.write(redis, entityKey(type, id), found.version, JSON.stringify(found.data), jitteredTtl(ttlSeconds)))
      cacheFills.inc({ entity: type, result: stored ? 'stored' : 'rejected' })
      if (!stored) casRejections.inc({ source: 'fill' })
    } catch (err) {
      log.warn({ err }, 'cache fill failed; answered from MongoDB')
    }
    return found?.data ?? null
  }
}

/**
 * The read-through cache for one entity type as a route uses it: MongoDB through the pooled read client, the
 * configured TTLs, and reads still in flight finished before the app closes.
 */
export function readThroughFor<T> (app: FastifyInstance, type: EntityType,
  find: (db: Db, id: number) => Promise<Versioned<T> | null>): ReadThrough<T> {
  const db = app.mongo.db!
  const cache = new ReadThrough<T>({
    redis: app.redis,
    type,
    load: async (id) => await find(db, id),
    ttlSeconds: app.config.cacheTtlSeconds,
    negativeTtlSeconds: app.config.negativeTtlSeconds,
    log: app.log
  })
  app.addHook('onClose', async () => { await cache.idle() })
  return cache
}
