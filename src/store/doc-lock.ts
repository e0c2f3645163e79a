// Serializes this process's updates to one document. FerretDB v1 (the dev/test store) runs every update, $inc and
// findAndModify included, as "read the document, change it in Go, write the whole document back" with no transaction
// around the pair (handler/common/update.go, backends/postgresql/collection.go; FerretDB issue #3040), so two
// concurrent updates of one document lose one of them: 100 concurrent $inc counted 2 to 23. MongoDB 7 applies each
// update atomically and needs none of this; there the lock only queues same-document writes MongoDB would queue anyway.
// The lock is per process: several write replicas on FerretDB can still lose a concurrent update (README, Writes).

const tails = new Map<string, Promise<void>>()

/** Runs fn once every earlier call for the same key has settled; calls for different keys run concurrently. */
export async function withDocLock<T> (key: string, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(key)
  let release!: () => void
  const done = new Promise<void>((resolve) => { release = resolve })
  const tail = previous === undefined ? done : previous.then(() => done)
  tails.set(key, tail)
  if (previous !== undefined) await previous
  try {
    return await fn()
  } finally {
    release()
    // The last holder removes the entry, so the map only ever holds keys with a write in progress.
    if (tails.get(key) === tail) tails.delete(key)
  }
}

/**
 * Runs fn holding several documents' locks. Taken in sorted order, so two callers holding several can never wait on
 * each other in a cycle (everyone else holds one lock at a time and takes no other while holding it).
 */
export async function withDocLocks<T> (keys: string[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(keys)].sort()
  const run = sorted.reduceRight<() => Promise<T>>((inner, key) => async () => await withDocLock(key, inner), fn)
  return await run()
}

/** One document's lock key: database, collection and id, so test namespaces and deployments never share a lock. */
export function docKey (database: string, collection: string, id: number | string): string {
  return `${database}/${collection}/${id}`
}

/** Keys currently locked or queued; for tests that check the map does not grow. */
export function lockedKeys (): number {
  return tails.size
}
