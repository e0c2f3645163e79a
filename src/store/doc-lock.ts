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
  /** Keys currently locked or queued; for tests that check the map does not grow. */
  readonly size: number
}

/** Holds a key across replicas around fn (src/cache/lease.ts's RedisLeases has this shape). */
export interface ReplicaLease {
  hold: <T>(key: string, fn: () => Promise<T>) => Promise<T>
}

class QueueLocks implements DocLocks {
  private readonly tails = new Map<string, Promise<void>>()

  /** Without a lease, updates are ordered within this app only. */
  constructor (private readonly lease?: ReplicaLease) {}

  async withLock<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key)
    let release!: () => void
    const done = new Promise<void>((resolve) => { release = resolve })
    const tail = previous === undefined ? done : previous.then(() => done)
    this.tails.set(key, tail)
    if (previous !== undefined) await previous
    try {
      // The app's own queue first: only the head of a document's queue asks Redis, so contention within a replica
      // costs no Redis round trips.
      return this.lease === undefined ? await fn() : await this.lease.hold(key, fn)
    } finally {
      release()
      // The last holder removes the entry, so the map only ever holds keys with a write in progress.
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }

  async withLocks<T> (keys: string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort()
    const run = sorted.reduceRight<() => Promise<T>>((inner, key) => async () => await this.withLock(key, inner), fn)
    return await run()
  }

  get size (): number {
    return this.tails.size
  }
}

const NO_LOCKS: DocLocks = {
  withLock: async (_key, fn) => await fn(),
  withLocks: async (_keys, fn) => await fn(),
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
