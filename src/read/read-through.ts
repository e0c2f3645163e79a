// Read-through cache for one entity type: Redis first; on a miss one MongoDB read per key per process (single
// flight), then a version-CAS fill. While Redis is unreachable every read goes to MongoDB (design invariant 3).
// A GET by id may ask for at least a version (Min-Version): an older cached entry is then read past to MongoDB.
// Longer than most files: the lookup, the single flight, the fill and the Redis-down bypass share one state per
// entity type (what is in flight, whether Redis answered); split apart each would need all of it.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { EntityType } from '../shared/event.js'
import type { Metrics } from '../shared/metrics.js'
import type { Post, User } from '../shared/schemas.js'
import type { Versioned } from '../store/read.js'
import { ABSENT_VERSION, casSet, jitteredTtl } from '../cache/cas.js'
import { entityJson, isEntityJson, type EntityText } from '../cache/entity-json.js'
import { entityKey } from '../cache/keys.js'
import { defineReadScripts } from '../cache/read-scripts.js'
import type { NearCache } from '../cache/near-cache.js'
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

/**
 * What Redis holds for one id: this entity's checked text with its version (the ETag, and what Min-Version is held
 * to), a known absence, nothing usable, or no answer.
 */
type Hit = { state: 'hit' } & EntityText
type Lookup = Hit | { state: 'absent' } | { state: 'miss' } | { state: 'error' }

/** A MongoDB read's result with the entity's cache text (what the fill stored, and what getJson answers). */
type Found<T> = { data: T, json: string, version: number } | null

export class ReadThrough<T> {
  private readonly flight = new SingleFlight<number, Found<T>>()
  /**
   * Redis lookups of near-cache misses, one per key at a time: when a hot entry reaches its age limit, the burst of
   * requests for it (up to one per connection) shares one lookup instead of each asking Redis (measured: 6-25% of
   * cached GETs went to Redis with 200-500 hot posts, at 1-2 µs per request; 0 with the herd joined).
   */
  private readonly nearMisses = new SingleFlight<number, Lookup>()
  private readonly write: CacheWrite

  // Bound metric handles: every lookup counts into one of these series, so none is looked up per request.
  private readonly counted: Record<'near_hit' | 'hit' | 'negative_hit' | 'stale' | 'miss' | 'error', { inc: (value?: number) => void }>
  private readonly lookupTime: { observe: (seconds: number) => void }

  constructor (private readonly opts: ReadThroughOptions<T>) {
    defineReadScripts(opts.redis) // once per client, not on every page
    this.write = opts.write ?? casSet
    this.lookupTime = opts.metrics.redisDuration.bind({ op: 'lookup' })
    const count = (result: string): { inc: (value?: number) => void } => opts.metrics.cacheLookups.bind({ entity: opts.type, result })
    this.counted = {
      near_hit: count('near_hit'), hit: count('hit'), negative_hit: count('negative_hit'), stale: count('stale'), miss: count('miss'), error: count('error')
    }
  }

  /**
   * The entity's JSON text and version, or null when it does not exist: GET by id sends the text as the body as it is
   * and the version as its ETag. A hit costs one HMGET and a prefix check (entity-json.ts), no parse and no
   * serialization: the hot path of the whole read role.
   *
   * With `minVersion` (Min-Version; 0 = any), a near or Redis entry older than it is read past, and so is a known
   * absence (it may predate the create): MongoDB answers, through a read begun after this call (see fresh). The answer
   * is then the stored version, which the caller compares: older still means no stored version satisfies it.
   */
  async getJson (id: number, minVersion = 0): Promise<EntityText | null> {
    // Any MongoDB read begun after this point sees every write acknowledged before the request (see fresh).
    const since = minVersion > 0 ? this.flight.mark() : 0
    const near = this.opts.near
    let entry: Lookup
    if (near === undefined) {
      entry = await this.lookupOne(id)
    } else {
      const key = near.keyPrefix + entityKey(this.opts.type, id)
      const cached = near.cache.get(key)
      if (cached !== undefined && cached.version >= minVersion) {
        this.counted.near_hit.inc()
        return cached
      }
      entry = await this.nearMiss(near.cache, key, id)
    }
    const hit = entry.state === 'hit' ? entry : undefined
    if (hit !== undefined && hit.version >= minVersion) {
      this.counted.hit.inc()
      return hit
    }
    if (hit !== undefined || (entry.state === 'absent' && minVersion > 0)) {
      this.counted.stale.inc()
      return await this.fresh(id, since)
    }
    if (entry.state === 'absent') {
      this.counted.negative_hit.inc()
      return null
    }
    return await (minVersion > 0 ? this.fresh(id, since, entry) : this.miss(id, entry))
  }

  /**
   * Entities' JSON texts in the order asked, null where absent: a list page is assembled from them without parsing
   * any. A negative entry is read again rather than trusted: the list index says the id exists, so the entry is older
   * than the create whose event has not landed yet.
   */
  async getManyJson (ids: number[]): Promise<Array<string | null>> {
    const near = this.opts.near
    if (near !== undefined) {
      // A page read a moment ago: every entity in process memory, no Redis round trip for them.
      const texts: string[] = []
      for (const id of ids) {
        const cached = near.cache.get(near.keyPrefix + entityKey(this.opts.type, id))
        if (cached === undefined) break
        texts.push(cached.json)
      }
      if (texts.length === ids.length) {
        this.counted.near_hit.inc(ids.length)
        return texts
      }
    }
    const found = await this.lookup(ids)
    if (found.every((entry): entry is Hit => entry.state === 'hit')) {
      this.counted.hit.inc(ids.length)
      return found.map((entry) => entry.json)
    }
    return await Promise.all(ids.map(async (id, i) => {
      const entry = found[i]
      if (entry?.state === 'hit') {
        this.counted.hit.inc()
        return entry.json
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
    this.countMiss(entry)
    return await this.flight.do(id, async () => await this.loadAndFill(id), this.joined)
  }

  /**
   * Reads MongoDB for a caller that must see every write acknowledged before it asked (Min-Version): a read already
   * running may have begun before that write, so the caller shares only a read begun after `since` (the single
   * flight's doFresh). Concurrent callers still share: one read running and one waiting per key at most.
   */
  private async fresh (id: number, since: number, entry?: Lookup): Promise<Found<T>> {
    if (entry !== undefined) this.countMiss(entry)
    return await this.flight.doFresh(id, since, async () => await this.loadAndFill(id), this.joined)
  }

  private countMiss (entry: Lookup | undefined): void {
    this.counted[entry === undefined || entry.state === 'error' ? 'error' : 'miss'].inc()
  }

  private readonly joined = (): void => { this.opts.metrics.singleFlightJoins.inc({ entity: this.opts.type }) }

  /**
   * A near-cache miss's Redis lookup: joins the one in flight for the key, unless the key changed since that one began
   * (its answer may predate the change this request must see: then a lookup of its own). A joined lookup may still be
   * older than a Min-Version, which getJson then reads past.
   */
  private async nearMiss (near: NearCache, key: string, id: number): Promise<Lookup> {
    if (near.changedInFlight(key)) return await this.lookupOne(id)
    return await this.nearMisses.do(id, async () => await this.lookupAndKeep(near, key, id))
  }

  /** A Redis lookup whose hit the near cache keeps, unless the key was invalidated while it was in flight. */
  private async lookupAndKeep (near: NearCache, key: string, id: number): Promise<Lookup> {
    const ticket = near.begin(key)
    const entry = await this.lookupOne(id)
    if (ticket !== null) near.end(ticket, entry.state === 'hit' ? entry : undefined)
    return entry
  }

  /**
   * One id's entry in one HMGET of its version and text (every GET by id): no pipeline object, no timer closure, and
   * a plain promise chain rather than an async body (one promise and one suspension less per GET).
   */
  private lookupOne (id: number): Promise<Lookup> {
    const { redis, type, log } = this.opts
    const started = performance.now()
    return redis.hmget(entityKey(type, id), 'v', 'd').then(([v, d]) => {
      this.lookupTime.observe((performance.now() - started) / 1000)
      return classify(type, id, v ?? null, d ?? null)
    }, (err: unknown) => {
      this.lookupTime.observe((performance.now() - started) / 1000)
      log.debug({ err }, 'cache lookup failed; reading MongoDB')
      return ERROR
    })
  }

  /**
   * One round trip for all ids (one script when several); a Redis failure makes every id an 'error' (MongoDB answers).
   * What it finds goes into the near cache under the same tickets a GET by id takes, so the next page is served from
   * memory.
   */
  private async lookup (ids: number[]): Promise<Lookup[]> {
    const { redis, type, log, near, metrics: { redisDuration } } = this.opts
    if (ids.length === 1) {
      // One id is one HMGET, as for a GET by id, and kept near the same way.
      const id = ids[0]!
      return [near === undefined ? await this.lookupOne(id) : await this.nearMiss(near.cache, near.keyPrefix + entityKey(type, id), id)]
    }
    const keys = ids.map((id) => entityKey(type, id))
    const tickets = near === undefined ? [] : keys.map((key) => near.cache.begin(near.keyPrefix + key))
    let found: Lookup[]
    try {
      const vd = await timed(redisDuration, 'lookup', async () => await redis.postboardEntityTexts(keys.length, ...keys))
      found = ids.map((id, i) => classify(type, id, vd[2 * i] ?? null, vd[2 * i + 1] ?? null))
    } catch (err) {
      log.debug({ err }, 'cache lookup failed; reading MongoDB')
      found = ids.map(() => ERROR)
    }
    for (const [i, ticket] of tickets.entries()) {
      const entry = found[i]!
      if (ticket !== null) near?.cache.end(ticket, entry.state === 'hit' ? entry : undefined)
    }
    return found
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
 * An entry's v and d: no entry, a known absence (empty d), or an entry's text and version (every writer sets v and d
 * together, in one HSET in cas.ts's script). The version is what GET by id answers as its ETag and what the near cache
 * keeps. A v that is not a version, or a text that is not this entity's (isEntityJson), could only come from
 * something other than cas.ts's script: the entry is a miss, read past to MongoDB. Checked here, once per lookup.
 */
function classify (type: EntityType, id: number, v: string | null, d: string | null): Lookup {
  if (d === null) return MISS
  if (d === '') return ABSENT
  const version = Number(v)
  return Number.isSafeInteger(version) && version > 0 && isEntityJson(type, id, d) ? { state: 'hit', json: d, version } : MISS
}
