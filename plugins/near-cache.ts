// The read role's near cache (src/cache/near-cache.ts), decorated as `nearCache`: null when NEAR_CACHE_ENTRIES is 0.
import fp from 'fastify-plugin'
import { entityKeyPrefix, POST_INDEX_KEY } from '../src/cache/keys.js'
import { NearCache } from '../src/cache/near-cache.js'

declare module 'fastify' {
  interface FastifyInstance {
    nearCache: NearCache | null
  }
}

export default fp(async (app) => {
  const { entries, maxAgeMs } = app.config.nearCache
  // Entity keys ("pb:post:", "pb:user:") and the list index, under this deployment's key prefix.
  const prefix = app.redis.options.keyPrefix ?? ''
  const indexKey = prefix + POST_INDEX_KEY
  const near = entries > 0 ? new NearCache({ maxEntries: entries, maxAgeMs, log: app.log, indexKey }) : null
  if (near !== null) {
    near.start(app.redis, [prefix + entityKeyPrefix('post'), prefix + entityKeyPrefix('user'), indexKey])
    app.addHook('onClose', async () => { await near.stop() })
  }
  app.decorate('nearCache', near)
}, { name: 'near-cache', dependencies: ['config', 'redis'] })
