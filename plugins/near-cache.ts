// The read role's near cache (src/cache/near-cache.ts), decorated as `nearCache`: null when NEAR_CACHE_ENTRIES is 0.
import fp from 'fastify-plugin'
import { entityKeyPrefix } from '../src/cache/keys.js'
import { NearCache } from '../src/cache/near-cache.js'

declare module 'fastify' {
  interface FastifyInstance {
    nearCache: NearCache | null
  }
}

export default fp(async (app) => {
  const { entries, maxAgeMs } = app.config.nearCache
  const near = entries > 0 ? new NearCache({ maxEntries: entries, maxAgeMs, log: app.log }) : null
  if (near !== null) {
    // Entity keys only ("pb:post:", "pb:user:"), never the list index, under this deployment's key prefix.
    const prefix = app.redis.options.keyPrefix ?? ''
    near.start(app.redis, [prefix + entityKeyPrefix('post'), prefix + entityKeyPrefix('user')])
    app.addHook('onClose', async () => { await near.stop() })
  }
  app.decorate('nearCache', near)
}, { name: 'near-cache', dependencies: ['config', 'redis'] })
