// Read-through cache for one entity type: Redis first; on a miss one MongoDB read per key per process (single
// flight), then a version-CAS fill. While Redis is unreachable every read goes to MongoDB (design invariant 3).
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { EntityType } from '../shared/event.js'
import type { Metrics } from '../shared/metrics.js'
import type { Post, User } from '../shared/schemas.js'
import type { Versioned } from '../store/read.js'
import { ABSENT_VERSION, casSet, jitteredTtl } from '../cache/cas.js'
import { entityJson, isEntityJson } from '../cache/entity-json.js'
import { entityKey } from '../cache/keys.js'
import { defineReadScripts } from '../cache/read-scripts.js'
import type { NearCache, Ticket } from '../cache/near-cache.js'
import { SingleFlight } from '../shared/single-flight.js'
import { timed } from '../shared/timed.js'

export type CacheWrite = typeof casSet

export type ReadMetrics = Pick<Metrics, 'cacheFills' | 'cacheLookups' | 'casRejections' | 'mongoDuration' | 'redisDuration' | 'singleFlightJoins' | 'listRebuilds'>

export interface ReadThroughOptions<T> {
  redis: Redis
  type: EntityType
  /** The MongoDB read for one id (through the pooled read client). */
  load: (id: number) => Promise<Versioned<T> | null>
  ttlSeconds: number
  negativeTtlSeconds: number
  log: FastifyBaseLogger
  metrics: ReadMetrics
  /** How a fill is written: casSet. A seam for the test that holds a fill between its MongoDB read and its write. */
  write?: CacheWrite
  /** The read role's near cache (NEAR_CACHE_ENTRIES > 0), with the deployment's Redis key prefix its keys carry. */
  near?: { cache: NearCache, keyPrefix: string }
}

/** What Redis holds for one id: an entry's text (checked by the caller), a known absence, nothing, or no answer. */
type Lookup = { state: 'hit', text: string } | { state: 'absent' } | { state: 'miss' } | { state: 'error' }

/** A MongoDB read's result with the entity's cache text (what the fill stored, and what getJson answers). */
type Found<T> = { data: T, json: string, version: number } | null

export class ReadThrough<T> {
  private readonly flight = new SingleFlight<number, Found<T>>()
  private readonly write: CacheWrite

  // Bound metric handles: every lookup counts into one of these series, so none is looked up per request.
  private readonly counted: Record<'near_hit' | 'hit' | 'negative_hit' | 'miss' | 'error', { inc: () => void }>
  private readonly lookupTime: { observe: (seconds: number) => void }

  constructor (private readonly opts: ReadThroughOptions<T>) {
    defineReadScripts(opts.redis) // once per client, not on every page
    this.write = opts.write ?? casSet
    this.lookupTime = opts.metrics.redisDuration.bind({ op: 'lookup' })
    const count = (result: string): { inc: () => void } => opts.metrics.cacheLookups.bind({ entity: opts.type, result })
    this.counted = { near_hit: count('near_hit'), hit: count('hit'), negative_hit: count('negative_hit'), miss: count('miss'), error: count('error') }
  }

  /**
   * The entity's JSON text, or null when it does not exist: GET by id sends it as the body as it is. A hit costs one
   * HGET and a prefix check (entity-json.ts), no parse and no serialization: the hot path of the whole read role.
   */
  async getJson (id: number): Promise<string | null> {
    const near = this.opts.near
    let ticket: Ticket | null = null
    if (near !== undefined) {
      const key = near.keyPrefix + entityKey(this.opts.type, id)
      const text = near.cache.get(key)
      if (text !== undefined) {
        this.counted.near_hit.inc()
        return text
      }
      ticket = near.cache.begin(key)
    }
    const entry = await this.lookupOne(id)
    const hit = entry.state === 'hit' && isEntityJson(this.opts.type, id, entry.text) ? entry.text : undefined
    if (ticket !== null) near?.cache.end(ticket, hit)
    if (hit !== undefined) {
      this.counted.hit.inc()
      return hit
    }
    if (entry.state === 'absent') {
      this.counted.negative_hit.inc()
      return null
    }
    const found = await this.miss(id, entry)
    return found?.json ?? null
  }

  /**
   * Entities' JSON texts in the order asked, null where absent: a list page is assembled from them without parsing
   * any. A negative entry is read again rather than trusted: the list index says the id exists, so the entry is older
   * than the create whose event has not landed yet.
   */
  async getManyJson (ids: number[]): Promise<Array<string | null>> {
    const found = await this.lookup(ids)
    return await Promise.all(ids.map(async (id, i) => {
      const entry = found[i]
      if (entry?.state === 'hit' && isEntityJson(this.opts.type, id, entry.text)) {
        this.counted.hit.inc()
        return entry.text
      }
      return (await this.miss(id, entry))?.json ?? null
    }))
  }

  /** Settles when no MongoDB read or fill is running; for shutdown. */
  async idle (): Promise<void> {
    await this.flight.idle()
  }

  /**
   * Counts a lookup that found nothing usable (an entry this code did not write counts as a miss) and reads MongoDB
   * for it, sharing the read with any other caller missing the same id.
   */
  private async miss (id: number, entry: Lookup | undefined): Promise<Found<T>> {
    const { type } = this.opts
    this.counted[entry === undefined || entry.state === 'error' ? 'error' : 'miss'].inc()
    return await this.flight.do(id, async () => await this.loadAndFill(id), () => this.opts.metrics.singleFlightJoins.inc({ entity: type }))
  }

  /**
   * One id's entry in one HGET (every GET by id): no pipeline object, no timer closure, no arrays of replies, and a
   * plain promise chain rather than an async body (one promise and one suspension less per GET).
   */
  private lookupOne (id: number): Promise<Lookup> {
    const { redis, type, log } = this.opts
    const started = performance.now()
    return redis.hget(entityKey(type, id), 'd').then((d) => {
      this.lookupTime.observe((performance.now() - started) / 1000)
      return classify(d)
    }, (err: unknown) => {
      this.lookupTime.observe((performance.now() - started) / 1000)
      log.debug({ err }, 'cache lookup failed; reading MongoDB')
      return ERROR
    })
  }

  /** One round trip for all ids (one script when several); a Redis failure makes every id an 'error' (MongoDB answers). */
  private async lookup (ids: number[]): Promise<Lookup[]> {
    if (ids.length === 1) return [await this.lookupOne(ids[0]!)]
    const { redis, type, log, metrics: { redisDuration } } = this.opts
    try {
      const texts = await timed(redisDuration, 'lookup', async () =>
        await redis.postboardEntityTexts(ids.length, ...ids.map((id) => entityKey(type, id))))
      return texts.map((d) => classify(d))
    } catch (err) {
      log.debug({ err }, 'cache lookup failed; reading MongoDB')
      return ids.map(() => ERROR)
    }
  }

  /** The single-flight body: read MongoDB, then CAS-fill Redis (an absent id gets the short negative TTL). */
  private async loadAndFill (id: number): Promise<Found<T>> {
    const { redis, type, load, log, ttlSeconds, negativeTtlSeconds, metrics: { mongoDuration, redisDuration, cacheFills, casRejections } } = this.opts
    const loaded = await timed(mongoDuration, `find_${type}`, async () => await load(id))
    const found = loaded === null ? null : { ...loaded, json: entityJson(type, loaded.data as Post | User) }
    // Redis known down: answer from MongoDB without a fill attempt that can only fail.
    if (redis.status !== 'ready') return found
    try {
      const stored = await timed(redisDuration, 'fill', async () => found === null
        ? await this.write(redis, entityKey(type, id), ABSENT_VERSION, '', jitteredTtl(negativeTtlSeconds))
        : await this.write(redis, entityKey(type, id), found.version, found.json, jitteredTtl(ttlSeconds)))
      cacheFills.inc({ entity: type, result: stored ? 'stored' : 'rejected' })
      if (!stored) casRejections.inc({ source: 'fill' })
    } catch (err) {
      log.warn({ err }, 'cache fill failed; answered from MongoDB')
    }
    return found
  }
}

const ERROR: Lookup = { state: 'error' }
const MISS: Lookup = { state: 'miss' }
const ABSENT: Lookup = { state: 'absent' }

/**
 * An entry's d: no entry, a known absence (empty d), or an entry's text for the caller to check. d alone decides,
 * because every writer sets v and d together (one HSET in cas.ts's script); reading v too cost a second field and an
 * array reply on every GET.
 */
function classify (d: string | null): Lookup {
  if (d === null) return MISS
  return d === '' ? ABSENT : { state: 'hit', text: d }
}
