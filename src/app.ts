// buildApp: the shared plugins every role uses, then only the chosen roles' routes or loops.
// This one function answers "what does --role=read start?".
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './shared/config.js'
import { lazyChildLogger } from './shared/lazy-logger.js'
import { requestIdGenerator } from './shared/request-id.js'
import configPlugin from '../plugins/config.js'
import errorsPlugin, { errorBody } from '../plugins/errors.js'
import metricsPlugin from '../plugins/metrics.js'
import docsPlugin from '../plugins/docs.js'
import redisPlugin from '../plugins/redis.js'
import mongoPlugin from '../plugins/mongo.js'
import kafkaPlugin from '../plugins/kafka.js'
import storePlugin from '../plugins/store.js'
import nearCachePlugin from '../plugins/near-cache.js'
import consumerPlugin from '../plugins/consumer.js'
import healthRoutes from '../routes/health.js'
import metricsRoutes from '../routes/metrics.js'
import readRoutes from '../routes/read/index.js'
import writeRoutes from '../routes/write/index.js'

export interface BuildOptions {
  /** pino options, or false for silence (tests); defaults to JSON at config.logLevel. */
  logger?: boolean | object
}

/** The router's own refusals (a malformed %-escape, an over-long path parameter), in the API's error shape. */
function routerError (err: FastifyError, _req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = err.statusCode ?? 500
  /* c8 ignore next -- the router's only other framework error comes from async constraints, which no route uses */
  if (status < 400 || status > 499) return reply.code(500).send(errorBody(500, 'something went wrong on our side; it has been logged'))
  return reply.code(status).send(errorBody(status, err.message))
}

export async function buildApp (config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel, redact: ['req.headers.authorization'] },
    bodyLimit: config.bodyLimit,
    requestTimeout: 30_000,
    connectionTimeout: 10_000,
    // What makes requestTimeout hold (test/rel-slow-clients.test.ts): Node sweeps for expired requests only every
    // connectionsCheckingInterval (30 s by default, so 30 s meant 30 to 60 s), and a body still arriving is cut at
    // the later of headersTimeout and requestTimeout (Node's headersTimeout defaults to 60 s). Headers get 10 s.
    http: { connectionsCheckingInterval: 1000, headersTimeout: 10_000 },
    return503OnClosing: true,
    // The router's X-Request-Id (or one of ours) ties a request's log lines together across router and replica.
    requestIdHeader: 'x-request-id',
    genReqId: requestIdGenerator(),
    childLoggerFactory: lazyChildLogger,
    routerOptions: { maxParamLength: 100 },
    // The router refuses a malformed %-escape (400) or an over-long path parameter (414) before any route or error
    // handler runs; Fastify's own body for those adds a `code` and calls a 414 "Bad Request". Answer them like every
    // other error (test/rel-fuzz.test.ts).
    frameworkErrors: routerError,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(configPlugin, { config })
  await app.register(errorsPlugin)
  await app.register(import('../plugins/identity.js'))
  await app.register(metricsPlugin) // before any route, docs' own included: it gives every route its onResponse hook
  await app.register(docsPlugin) // before any route: the OpenAPI document is built from the routes registered after it
  await app.register(redisPlugin)
  await app.register(mongoPlugin)
  await app.register(storePlugin)
  await app.register(nearCachePlugin)
  const { roles } = config
  if (roles.has('write') || roles.has('consumer')) await app.register(kafkaPlugin)
  if (roles.has('write')) await app.register(import('../plugins/producer.js')) // publisher + relay (writes publish events)

  await app.register(healthRoutes, { prefix: '/health' })
  await app.register(metricsRoutes)
  if (roles.has('read')) await app.register(readRoutes, { prefix: '/get_server' })
  if (roles.has('write')) await app.register(writeRoutes, { prefix: '/post_server' })
  if (roles.has('consumer')) await app.register(consumerPlugin)
  return app
}
