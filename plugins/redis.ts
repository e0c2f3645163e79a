// The shared Redis client (@fastify/redis over ioredis), closed on shutdown.
// Commands fail fast while Redis is unreachable (no offline queue, one retry) so the read path can fall back to
// MongoDB instead of hanging; ioredis keeps reconnecting in the background.
import fp from 'fastify-plugin'
import fastifyRedis, { type FastifyRedis } from '@fastify/redis'
import { Redis } from 'ioredis'
import { redact } from '../src/shared/config.js'

export default fp(async (app) => {
  const client = new Redis(app.config.redisUrl, {
    connectionName: `postboard-${[...app.config.roles].join('-')}`,
    keyPrefix: app.config.redisKeyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: app.config.timeouts.redisConnectMs,
    // A Redis that hangs (rather than refusing connections) must not hang reads: fail the command and fall back.
    commandTimeout: app.config.timeouts.redisCommandMs,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000)
  })
  let lastError = ''
  client.on('error', (err: Error) => {
    // ioredis emits on every failed reconnect; log each distinct failure once, not every 200 ms.
    if (err.message !== lastError) app.log.warn({ err, redis: redact(app.config.redisUrl) }, 'redis: connection error')
    lastError = err.message
  })
  client.on('ready', () => {
    if (lastError !== '') app.log.info('redis: connected again')
    lastError = ''
  })
  const connected = await client.connect().then(() => true, (err: Error) => {
    app.log.warn({ err }, 'redis: not reachable at start; serving without the cache until it is')
    return false
  })
  if (connected) {
    await app.register(fastifyRedis, { client, closeClient: true })
  } else {
    // @fastify/redis waits for 'ready' before letting boot go on, which would turn a Redis outage into a boot
    // failure; availability (design invariant 3) wants the process up and falling back to MongoDB instead.
    app.decorate('redis', client as unknown as FastifyRedis)
    app.addHook('onClose', async () => { client.disconnect() })
  }
}, { name: 'redis', dependencies: ['config'] })
