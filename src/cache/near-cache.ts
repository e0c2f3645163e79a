// The read role's near cache: entity texts and their versions kept in process memory for a hit that needs no Redis
// round trip at all, invalidated by Redis itself. One connection of its own runs CLIENT TRACKING in broadcast mode over
// the entity key prefixes, redirected to itself, and subscribes to __redis__:invalidate: any change to an entity key
// (consumer apply, write-through, read-through fill, expiry, eviction, flush) pushes its name, and the entry goes.
//
// Staleness bound: an entry never outlives the invalidation of its key by more than that message's trip over
// loopback, and never lives longer than maxAgeMs whatever happens (a connection that dies without a word sends no
// invalidation; maxAgeMs is what bounds that case). While the tracking connection is not set up, the near cache is
// off and empty: nothing is served from it and nothing is kept.
//
// The race every client-side cache has (a lookup's reply, read before a change, arriving after that change's
// invalidation) is closed with tickets: a lookup takes one before asking Redis, an invalidation of the key spoils
// every ticket in flight for it, and only an unspoiled ticket from the current connection may store what it read.
//
// It also keeps list pages' ids (the index's newest ids below a cursor), under the same bounds: any change to the
// index key drops every page and spoils every page lookup in flight, so a warm list page needs no Redis at all.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { EntityText } from './entity-json.js'
import { trimOldest } from '../shared/trim-oldest.js'

export interface NearCacheOptions {
  /** Bound on entries; the oldest go first. */
  maxEntries: number
  /** Longest any entry is served, invalidated or not. */
  maxAgeMs: number
  log: FastifyBaseLogger
  /** The list index's full key, when list pages are kept too (its prefix must be among those tracked). */
  indexKey?: string
  now?: () => number
}

export interface Ticket { key: string, epoch: number }
/** A list page lookup's right to store: void once tracking changes or the index changes (see pageEnd). */
export interface PageTicket { epoch: number, index: number }

/** Bound on kept list pages (one per limit and cursor asked for); the oldest go first. */
const MAX_PAGES = 1000

const CHANNEL = '__redis__:invalidate'

/** An entity text or a page's ids, and until when it may be served. */
interface Kept<V> { value: V, until: number }

export class NearCache {
  private readonly entries = new Map<string, Kept<EntityText>>()
  /** Lookups in flight per key, and whether an invalidation arrived since the first of them began. */
  private readonly inflight = new Map<string, { count: number, spoiled: boolean }>()
  /** List pages' ids by page, and how many times the index changed: a page ticket from before a change cannot store. */
  private readonly pages = new Map<string, Kept<readonly number[]>>()
  private indexChanges = 0
  /** Grows whenever tracking is (re)established or lost, so a ticket from before can never store. */
  private epoch = 0
  private tracking = false
  private readonly now: () => number
  private sub: Redis | undefined
  /** Invalidation messages handled, and the tracking connection's client id once set up (for operators and tests). */
  invalidations = 0
  clientId: number | undefined

  constructor (private readonly opts: NearCacheOptions) {
    this.now = opts.now ?? Date.now
  }

  get active (): boolean { return this.tracking }
  get size (): number { return this.entries.size }

  /**
   * Opens the tracking connection from `redis` (same server and credentials; RESP2, because Redis sends RESP3
   * clients an 'invalidate' push that ioredis drops, and a RESP2 redirect target gets ordinary pub/sub messages).
   * `prefixes` are full key prefixes (deployment prefix included) of the keys worth caching.
   */
  start (redis: Redis, prefixes: string[]): void {
    const sub = redis.duplicate({ protocol: 2, keyPrefix: '', autoResubscribe: false, lazyConnect: false, enableOfflineQueue: true })
    this.sub = sub
    sub.on('ready', () => { this.track(sub, prefixes).catch(() => {}) }) // track() reports its own failures
    sub.on('close', () => { this.lose('connection closed') })
    sub.on('error', () => {}) // 'close' follows; the redis plugin already reports Redis outages
    sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() === CHANNEL) this.invalidate(message)
    })
  }

  async stop (): Promise<void> {
    // A shutdown is no loss worth a warning: off and empty, quietly.
    this.tracking = false
    this.clear()
    this.sub?.disconnect()
  }

  /** The entry's text and version while tracking holds and the entry is young enough; undefined otherwise. */
  get (key: string): EntityText | undefined {
    return this.young(this.entries, key)
  }

  /** Whether the key was invalidated while a lookup of it is in flight (that lookup's answer may predate the change). */
  changedInFlight (key: string): boolean {
    return this.inflight.get(key)?.spoiled === true
  }

  /** Before a lookup in Redis: the ticket that may store its result. Null while tracking is off. */
  begin (key: string): Ticket | null {
    if (!this.tracking) return null
    const flight = this.inflight.get(key)
    if (flight === undefined) this.inflight.set(key, { count: 1, spoiled: false })
    else flight.count++
    return { key, epoch: this.epoch }
  }

  /** After the lookup: stores `entity` (an entity's checked text, or undefined for nothing) if the ticket still may. */
  end (ticket: Ticket, entity: EntityText | undefined): void {
    // Tracking was lost or set up again meanwhile: everything in flight was dropped with the old epoch.
    if (ticket.epoch !== this.epoch) return
    const flight = this.inflight.get(ticket.key)
    /* c8 ignore next -- every ticket of the current epoch has its flight entry */
    if (flight === undefined) return
    if (--flight.count === 0) this.inflight.delete(ticket.key)
    if (entity === undefined || flight.spoiled || !this.tracking) return
    this.keep(this.entries, ticket.key, entity, this.opts.maxEntries)
  }

  /** A list page's ids (see PostIndex.page) while tracking holds and the page is young enough; undefined otherwise. */
  page (page: string): readonly number[] | undefined {
    return this.young(this.pages, page)
  }

  /** Before a list page's lookup in Redis: the ticket that may store it. Null while tracking is off or pages are not kept. */
  pageBegin (): PageTicket | null {
    if (!this.tracking || this.opts.indexKey === undefined) return null
    return { epoch: this.epoch, index: this.indexChanges }
  }

  /** After the lookup: keeps the page's ids unless tracking or the index changed since the ticket was taken. */
  pageEnd (ticket: PageTicket, page: string, ids: readonly number[]): void {
    if (ticket.epoch !== this.epoch || ticket.index !== this.indexChanges || !this.tracking) return
    this.keep(this.pages, page, ids, MAX_PAGES)
  }

  /** An invalidation message: the keys changed, or null when Redis flushed everything. */
  invalidate (message: unknown): void {
    this.invalidations++
    if (!Array.isArray(message)) {
      this.clear()
      return
    }
    for (const k of message as unknown[]) {
      const key = String(k)
      if (key === this.opts.indexKey) {
        this.indexChanges++
        this.pages.clear()
        continue
      }
      this.entries.delete(key)
      const flight = this.inflight.get(key)
      if (flight !== undefined) flight.spoiled = true
    }
  }

  /** What `map` keeps under `key` while it is younger than maxAgeMs; an older one is dropped. */
  private young<V> (map: Map<string, Kept<V>>, key: string): V | undefined {
    const kept = map.get(key)
    if (kept === undefined) return undefined
    if (kept.until > this.now()) return kept.value
    map.delete(key)
    return undefined
  }

  /** Keeps `value` under `key` for maxAgeMs; beyond `max` entries the oldest goes first. */
  private keep<V> (map: Map<string, Kept<V>>, key: string, value: V, max: number): void {
    map.set(key, { value, until: this.now() + this.opts.maxAgeMs })
    trimOldest(map, max)
  }

  /** CLIENT TRACKING on this connection itself, then the subscription; only then is the near cache on. */
  private async track (sub: Redis, prefixes: string[]): Promise<void> {
    try {
      const id = await sub.client('ID')
      this.clientId = id
      await sub.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...prefixes.flatMap((p) => ['PREFIX', p]))
      await sub.subscribe(CHANNEL)
      this.clear()
      this.tracking = true
      this.opts.log.info({ prefixes }, 'near cache: tracking entity keys')
    } catch (err) {
      // Stays off (every read asks Redis); ioredis reconnects and 'ready' tries again.
      this.opts.log.warn({ err }, 'near cache: could not set up tracking; reading through Redis meanwhile')
    }
  }

  private lose (why: string): void {
    if (this.tracking) this.opts.log.warn({ why }, 'near cache: tracking lost; off until it is set up again')
    this.tracking = false
    this.clear()
  }

  private clear (): void {
    this.epoch++
    this.entries.clear()
    this.inflight.clear()
    this.pages.clear()
  }
}
