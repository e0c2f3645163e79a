// Serializes updates to one document, for a store whose single-document updates are not atomic
// (StoreCapabilities.atomicUpdates false: FerretDB 1.x): first within the app (a queue per document), then across
// replicas (a lease in Redis per document, held around the update; docs/design.md, Store capabilities). Where updates
// are atomic (MongoDB) docLocks() returns a lock that runs fn at once.
import type { StoreCapabilities } from './capabilities.js'

export interface DocLocks {
  /** Runs fn once every earlier call for the same key has settled; calls for different keys run concurrently. */
  withLock: <T>(key: string, fn: () => Promise<T>) => Promise<T>
  /**
   * Runs fn holding several documents' locks. Taken in sorted order, so two callers holding several can never wait
   * on each other in a cycle (everyone else holds one lock at a time and takes no other while holding it).
   */
  withLocks: <T>(keys: string[], fn: () => Promise<T>) => Promise<T>
  /**
   * Runs fn holding every key's lock within the app and, across replicas, those of the keys no other replica holds
   * now; fn gets the keys it may change. Nothing waits on another replica: a batch changes what it got and leaves the
   * rest for its next round.
   */
  withAvailable: <T>(keys: string[], fn: (held: ReadonlySet<string>) => Promise<T>) => Promise<T>
  /** Keys currently locked or queued; for tests that check the map does not grow. */
  readonly size: number
}

/** A document lease lasts this long if its holder never releases it (it died or stalled). */
export const LEASE_TTL_MS = 5000
/** A request waits this long for a document another replica is changing, then answers 503. */
export const LEASE_WAIT_MS = 8000

/** Holds a key across replicas around fn (src/cache/lease.ts's RedisLeases has this shape). */
export interface ReplicaLease {
  hold: <T>(key: string, fn: () => Promise<T>) => Promise<T>
  holdAvailable: <T>(keys: string[], fn: (held: ReadonlySet<string>) => Promise<T>) => Promise<T>
}

class QueueLocks implements DocLocks {
  private readonly tails = new Map<string, Promise<void>>()

  /** Without a lease, updates are ordered within this app only. */
  constructor (private readonly lease?: ReplicaLease) {}

  async withLock<T> (key: string, fn: () => Promise<T>): Promise<T> {
    // The app's own queue first: only the head of a document's queue asks Redis, so contention within a replica
    // costs no Redis round trips.
    const lease = this.lease
    return await this.queued(key, lease === undefined ? fn : async () => await lease.hold(key, fn))
  }

  /** Runs fn once every earlier holder of the key within this app has settled. */
  private async queued<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key)
    let release!: () => void
    const done = new Promise<void>((resolve) => { release = resolve })
    const tail = previous === undefined ? done : previous.then(() => done)
    this.tails.set(key, tail)
    if (previous !== undefined) await previous
    try {
      return await fn()
    } finally {
      release()
      // The last holder removes the entry, so the map only ever holds keys with a write in progress.
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }

  async withLocks<T> (keys: string[], fn: () => Promise<T>): Promise<T> {
    return await this.nested(keys, (key, inner) => async () => await this.withLock(key, inner), fn)
  }

  async withAvailable<T> (keys: string[], fn: (held: ReadonlySet<string>) => Promise<T>): Promise<T> {
    const lease = this.lease
    const all = async (): Promise<T> => lease === undefined ? await fn(new Set(keys)) : await lease.holdAvailable(keys, fn)
    return await this.nested(keys, (key, inner) => async () => await this.queued(key, inner), all)
  }

  /** fn inside one lock per key, taken in sorted order (see withLocks). */
  private async nested<T> (keys: string[], lock: (key: string, inner: () => Promise<T>) => () => Promise<T>, fn: () => Promise<T>): Promise<T> {
    return await [...new Set(keys)].sort().reduceRight<() => Promise<T>>((inner, key) => lock(key, inner), fn)()
  }

  get size (): number {
    return this.tails.size
  }
}

const NO_LOCKS: DocLocks = {
  withLock: async (_key, fn) => await fn(),
  withLocks: async (_keys, fn) => await fn(),
  withAvailable: async (keys, fn) => await fn(new Set(keys)),
  size: 0
}

/** The locks a store with these capabilities needs: a queue per document (and a lease across replicas), or none. */
export function docLocks (caps: StoreCapabilities, lease?: ReplicaLease): DocLocks {
  return caps.atomicUpdates ? NO_LOCKS : new QueueLocks(lease)
}

/** One document's lock key: database, collection and id, so test namespaces and deployments never share a lock. */
export function docKey (database: string, collection: string, id: number | string): string {
  return `${database}/${collection}/${id}`
}
