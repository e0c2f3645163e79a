// Serializes this process's updates to one document, for a store whose single-document updates are not atomic
// (StoreCapabilities.atomicUpdates false: FerretDB 1.x). The lock is per process: several write replicas on such a
// store can still lose a concurrent update (docs/design.md, Store capabilities). Where updates are atomic (MongoDB)
// docLocks() returns a lock that runs fn at once.
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

class QueueLocks implements DocLocks {
  private readonly tails = new Map<string, Promise<void>>()

  async withLock<T> (key: string, fn: () => Promise<T>): Promise<T> {
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

/** The locks a store with these capabilities needs: a queue per document, or none. */
export function docLocks (caps: StoreCapabilities): DocLocks {
  return caps.atomicUpdates ? NO_LOCKS : new QueueLocks()
}

/** One document's lock key: database, collection and id, so test namespaces and deployments never share a lock. */
export function docKey (database: string, collection: string, id: number | string): string {
  return `${database}/${collection}/${id}`
}
