// How the roles reach MongoDB: the client options every pool shares, and how a write gets its database handle:
// through the write role's own pool (so a burst of writes cannot starve reads of connections), or on a fresh
// connection per write (`--write-connections=per-request`, the dual connection strategy the benchmark compares).
// Either way a write runs as runWrite(fn).
import { MongoClient, type Db, type MongoClientOptions } from 'mongodb'
import type { Timeouts } from '../shared/config.js'

export type RunWrite = <T>(fn: (db: Db) => Promise<T>) => Promise<T>

/**
 * The options every MongoDB client shares. Every wait is bounded: without socketTimeoutMS an operation whose answer
 * never comes (a store that stalls, a network that drops packets) waits forever, past the Idempotency-Key lease, and a
 * retry could then run the same write a second time. A timed-out operation fails with a network error: a 503, and for
 * a write sent but not answered, an unknown outcome (docs/design.md, Writes whose outcome is unknown).
 *
 * Options given here beat the URL's, so retryable writes are not set at all: the driver's default (on) or the URL's
 * `retryWrites` decides. On a replica set the driver then retries a write once after a failover or a dropped
 * connection, under one transaction number the server uses to apply it at most once; a standalone server (the local
 * FerretDB) has no sessions for that, and the driver sends each write once.
 */
export function mongoOptions (timeouts: Timeouts) {
  return {
    serverSelectionTimeoutMS: timeouts.mongoServerSelectionMs,
    connectTimeoutMS: timeouts.mongoConnectMs,
    socketTimeoutMS: timeouts.mongoSocketMs
  } as const satisfies MongoClientOptions
}

/** Runs every write on one pooled database handle. */
export function pooledWrites (db: Db): RunWrite {
  return async (fn) => await fn(db)
}

/** Runs each write on a connection of its own, opened for it and closed after it. */
export function perRequestWrites (url: string, database: string, timeouts: Timeouts): RunWrite {
  return async (fn) => {
    const client = new MongoClient(url, { ...mongoOptions(timeouts), maxPoolSize: 1 })
    try {
      await client.connect()
      return await fn(client.db(database))
    } finally {
      await client.close()
    }
  }
}
