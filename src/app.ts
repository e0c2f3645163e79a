// buildApp: the shared plugins every role uses, then only the chosen roles' routes or loops.
// This one function answers "what does --role=read start?".
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import configPlugin from '../plugins/config.js'
import errorsPlugin from '../plugins/errors.js'
import metricsPlugin from '../plugins/metrics.js'
import docsPlugin from '../plugins/docs.js'
import redisPlugin from '../plugins/redis.js'
import mongoPlugin from '../plugins/mongo.js'
import kafkaPlugin from '../plugins/kafka.js'
import storePlugin from '../plugins/store.js'
import consumerPlugin from '../plugins/consumer.js'
import healthRoutes from '../routes/health.js'
import readRoutes from '../routes/read/index.js'
import writeRoutes from '../routes/write/index.js'

export interface BuildOptions {
  /** pino options, or false for silence (tests); defaults to JSON at config.logLevel. */
  logger?: boolean | object
}

export async function buildApp (config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel, redact: ['req.headers.authorization'] },
    bodyLimit: config.bodyLimit,
    requestTimeout: 30_000,
    connectionTimeout: 10_000,
    return503OnClosing: true,
    // The router's X-Request-Id (or a fresh UUID) ties a request's log lines together across router and replica.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 100 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(configPlugin, { config })
  await app.register(errorsPlugin)
  await app.register(import('../plugins/identity.js'))
  await app.register(docsPlugin) // before any route: the OpenAPI document is built from the routes registered after it
  await app.register(metricsPlugin) // before any route: its onResponse hook times every request
  await app.register(redisPlugin)
  await app.register(mongoPlugin)
  await app.register(storePlugin)
  const { roles } = config
  if (roles.has('write') || roles.has('consumer')) await app.register(kafkaPlugin)
  if (roles.has('write')) await app.register(import('../plugins/producer.js')) // publisher + relay (writes publish events)

  await app.register(healthRoutes, { prefix: '/health' })
  if (roles.has('read')) await app.register(readRoutes, { prefix: '/get_server' })
  if (roles.has('write')) await app.register(writeRoutes, { prefix: '/post_server' })
  if (roles.has('consumer')) await app.register(consumerPlugin)
  return app
}
