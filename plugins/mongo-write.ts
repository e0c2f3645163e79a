// The write role's way to MongoDB, decorated as `runWrite`: its own pool (a second named registration of
// @fastify/mongodb, `app.mongo.write`, so a burst of writes cannot starve reads of connections), or with
// `--write-connections=per-request` a fresh connection per write. Only a process that serves writes opens it.
import fp from 'fastify-plugin'
import fastifyMongo from '@fastify/mongodb'
import { mongoOptions, perRequestWrites, pooledWrites, type RunWrite } from '../src/store/connections.js'

declare module 'fastify' {
  interface FastifyInstance { runWrite: RunWrite }
}

export default fp(async (app) => {
  const { mongoUrl, mongoDatabase, mongoWritePoolSize, writeConnections } = app.config
  if (writeConnections === 'per-request') {
    app.decorate('runWrite', perRequestWrites(mongoUrl, mongoDatabase, app.config.timeouts))
    return
  }
  await app.register(fastifyMongo, { name: 'write', url: mongoUrl, database: mongoDatabase, forceClose: true, maxPoolSize: mongoWritePoolSize, ...mongoOptions(app.config.timeouts) })
  app.decorate('runWrite', pooledWrites(app.mongo.write!.db!))
}, { name: 'mongo-write', dependencies: ['config'] })
