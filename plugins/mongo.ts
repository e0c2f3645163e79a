// The shared MongoDB clients (@fastify/mongodb): `mongo` is the pooled client every read uses; writes get their own
// pool (`mongoWrite`), so a burst of writes cannot starve reads of connections, and `--write-connections=per-request`
// swaps that pool for a fresh connection per write (seed 000's strategy, kept for comparison in the benchmark).
import fp from 'fastify-plugin'
import fastifyMongo from '@fastify/mongodb'
import { MongoClient, type Db } from 'mongodb'

export interface WriteDb {
  /** Runs fn with a database handle for one write: the write pool, or a fresh connection per call. */
  run: <T>(fn: (db: Db) => Promise<T>) => Promise<T>
}

declare module 'fastify' {
  interface FastifyInstance { mongoWrite: WriteDb }
}

export const MONGO_OPTIONS = {
  serverSelectionTimeoutMS: 3000,
  connectTimeoutMS: 3000,
  // FerretDB v1 and MongoDB 7 both accept these; retryable writes need a replica set, which dev does not have.
  retryWrites: false
} as const

export default fp(async (app) => {
  const { mongoUrl, mongoDatabase, mongoReadPoolSize, mongoWritePoolSize, writeConnections } = app.config
  await app.register(fastifyMongo, {
    url: mongoUrl,
    database: mongoDatabase,
    forceClose: true,
    maxPoolSize: mongoReadPoolSize,
    ...MONGO_OPTIONS
  })

  if (writeConnections === 'per-request') {
    app.decorate('mongoWrite', {
      async run (fn) {
        const client = new MongoClient(mongoUrl, { ...MONGO_OPTIONS, maxPoolSize: 1 })
        try {
          await client.connect()
          return await fn(client.db(mongoDatabase))
        } finally {
          await client.close()
        }
      }
    } satisfies WriteDb)
    return
  }
  const writeClient = new MongoClient(mongoUrl, { ...MONGO_OPTIONS, maxPoolSize: mongoWritePoolSize })
  await writeClient.connect()
  const db = writeClient.db(mongoDatabase)
  app.decorate('mongoWrite', { run: async (fn) => await fn(db) } satisfies WriteDb)
  app.addHook('onClose', async () => { await writeClient.close(true) })
}, { name: 'mongo', dependencies: ['config'] })
