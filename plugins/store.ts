// The store's per-app state, decorated as `store`: the capabilities the MongoDB-protocol server has (asked once, at
// boot), and the locks (with a Redis lease across replicas where updates are not atomic), create and reaction batchers
// (WRITE_BATCH_LINGER_MS) and known users that go with them. Also makes sure the indexes every role relies on exist
// before the app serves anything.
// Registered after Redis and the role's MongoDB client (read pool or writes).
import fp from 'fastify-plugin'
import { RedisLeases } from '../src/cache/lease.js'
import type { Db } from 'mongodb'
import { detectCapabilities, type StoreCapabilities } from '../src/store/capabilities.js'
import { LEASE_TTL_MS, LEASE_WAIT_MS } from '../src/store/doc-lock.js'
import { ensureIndexes } from '../src/store/indexes.js'
import { createStoreState, type StoreState } from '../src/store/state.js'

declare module 'fastify' {
  interface FastifyInstance { store: StoreState }
}

export default fp(async (app) => {
  const prepare = async (db: Db): Promise<StoreCapabilities> => { await ensureIndexes(db); return await detectCapabilities(db) }
  const readDb = app.mongo?.read?.db
  const caps = await (readDb !== undefined ? prepare(readDb) : app.runWrite(prepare))
  // Only a store whose updates are not atomic needs its updates ordered across replicas.
  const lease = caps.atomicUpdates ? undefined : new RedisLeases(app.redis, { ttlMs: LEASE_TTL_MS, waitMs: LEASE_WAIT_MS, log: app.log })
  app.log.debug({ store: caps }, 'store capabilities')
  app.decorate('store', createStoreState(caps, lease, app.config.writeBatchLingerMs))
}, { name: 'store', dependencies: ['config', 'redis'] })
