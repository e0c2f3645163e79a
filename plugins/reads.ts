// The read role's model (src/read/read-model.ts), decorated as `reads`: the read-through caches and the post list,
// built on this app's Redis client, read pool, near cache and metrics. Reads still in flight finish before close.
import fp from 'fastify-plugin'
import { createReadModel, type ReadModel } from '../src/read/read-model.js'

declare module 'fastify' {
  interface FastifyInstance { reads: ReadModel }
}

export default fp(async (app) => {
  const reads = createReadModel({
    redis: app.redis,
    db: app.mongo.read!.db!,
    near: app.nearCache,
    metrics: app.metrics,
    log: app.log,
    ttlSeconds: app.config.cacheTtlSeconds,
    negativeTtlSeconds: app.config.negativeTtlSeconds
  })
  app.decorate('reads', reads)
  app.addHook('onClose', async () => { await reads.idle() })
}, { name: 'reads', dependencies: ['config', 'metrics', 'redis', 'mongo-read', 'near-cache'] })
