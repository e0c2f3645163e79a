// The store's per-app state, decorated as `store`: the capabilities the MongoDB-protocol server has (asked once, at
// boot), and the locks, create batcher and known users that go with them. Also makes sure the indexes every role
// relies on exist before the app serves anything. Registered after the role's MongoDB client (read pool or writes).
import fp from 'fastify-plugin'
import { detectCapabilities } from '../src/store/capabilities.js'
import { ensureIndexes } from '../src/store/indexes.js'
import { createStoreState, type StoreState } from '../src/store/state.js'

declare module 'fastify' {
  interface FastifyInstance { store: StoreState }
}

export default fp(async (app) => {
  const readDb = app.mongo?.read?.db
  const store = await (readDb !== undefined
    ? (async () => { await ensureIndexes(readDb); return createStoreState(await detectCapabilities(readDb)) })()
    : app.runWrite(async (db) => { await ensureIndexes(db); return createStoreState(await detectCapabilities(db)) }))
  app.log.debug({ store: store.caps }, 'store capabilities')
  app.decorate('store', store)
}, { name: 'store', dependencies: ['config'] })
