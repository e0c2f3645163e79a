// buildApp: what every role has (configuration, errors, metrics, docs, health), then what the role manifest
// (src/shared/roles.ts) lists for the chosen roles: their shared plugins, their routes, or the consumer loop.
// Together with that table, this one function answers "what does --role=read start?".
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { SpanExporter } from '@opentelemetry/sdk-trace-base'
import type { Config } from './shared/config.js'
import { lazyChildLogger } from './shared/lazy-logger.js'
import { requestIdGenerator } from './shared/request-id.js'
import configPlugin from '../plugins/config.js'
import errorsPlugin, { errorBody } from '../plugins/errors.js'
import metricsPlugin from '../plugins/metrics.js'
import requestLogPlugin from '../plugins/request-log.js'
import docsPlugin from '../plugins/docs.js'
import tracingPlugin from '../plugins/tracing.js'
import redisPlugin from '../plugins/redis.js'
import mongoReadPlugin from '../plugins/mongo-read.js'
import mongoWritePlugin from '../plugins/mongo-write.js'
import storePlugin from '../plugins/store.js'
import kafkaPlugin from '../plugins/kafka.js'
import identityPlugin from '../plugins/identity.js'
import nearCachePlugin from '../plugins/near-cache.js'
import readsPlugin from '../plugins/reads.js'
import writesPlugin from '../plugins/writes.js'
import consumerPlugin from '../plugins/consumer.js'
import healthRoutes from '../routes/health.js'
import metricsRoutes from '../routes/metrics.js'
import readRoutes from '../routes/read/index.js'
import writeRoutes from '../routes/write/index.js'
import { ROLE_MANIFEST, pluginsFor, type PluginName, type Role } from './shared/roles.js'

/** The module behind each plugin name of the role manifest. */
const PLUGIN_MODULES: Record<PluginName, FastifyPluginAsync> = {
  redis: redisPlugin,
  'mongo-read': mongoReadPlugin,
  'mongo-write': mongoWritePlugin,
  store: storePlugin,
  kafka: kafkaPlugin,
  identity: identityPlugin,
  'near-cache': nearCachePlugin,
  reads: readsPlugin,
  writes: writesPlugin,
  consumer: consumerPlugin
}

/** Each HTTP role's route plugins, mounted at the manifest's prefix. */
const ROUTE_MODULES: Partial<Record<Role, FastifyPluginAsync>> = { read: readRoutes, write: writeRoutes }

export interface BuildOptions {
  /** pino options, or false for silence (tests); defaults to JSON at config.logLevel. */
  logger?: boolean | object
  /** Trace into this exporter whatever the OTEL_* settings say (tests: an in-memory exporter). */
  traceExporter?: SpanExporter
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
    // Behind the router, the client is X-Forwarded-For's last untrusted address (TRUST_PROXY names the router).
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    requestTimeout: 30_000,
    connectionTimeout: 10_000,
    // What makes requestTimeout hold (test/reliability/slow-clients.test.ts): Node sweeps for expired requests only every
    // connectionsCheckingInterval (30 s by default, so 30 s meant 30 to 60 s), and a body still arriving is cut at
    // the later of headersTimeout and requestTimeout (Node's headersTimeout defaults to 60 s). Headers get 10 s.
    http: { connectionsCheckingInterval: 1000, headersTimeout: 10_000 },
    return503OnClosing: true,
    // Two lines per request only when asked (REQUEST_LOG=all); by default plugins/request-log.ts logs the slow and failed.
    logController: new LogController({ disableRequestLogging: config.requestLog.mode !== 'all' }),
    // The router's X-Request-Id (or one of ours) ties a request's log lines together across router and replica.
    requestIdHeader: 'x-request-id',
    genReqId: requestIdGenerator(),
    childLoggerFactory: lazyChildLogger,
    routerOptions: { maxParamLength: 100 },
    // The router refuses a malformed %-escape (400) or an over-long path parameter (414) before any route or error
    // handler runs; Fastify's own body for those adds a `code` and calls a 414 "Bad Request". Answer them like every
    // other error (test/reliability/fuzz.test.ts).
    frameworkErrors: routerError,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Every role: configuration, the one error handler, metrics (before any route: it gives each its onResponse hook)
  // and docs (before any route: the OpenAPI document is built from the routes registered after it).
  await app.register(configPlugin, { config })
  await app.register(errorsPlugin)
  await app.register(metricsPlugin)
  await app.register(tracingPlugin, { exporter: opts.traceExporter })
  await app.register(requestLogPlugin)
  await app.register(docsPlugin)
  // Then what the role manifest says the chosen roles need, in its order: nothing else is opened or connected.
  for (const name of pluginsFor(config.roles)) await app.register(PLUGIN_MODULES[name])

  await app.register(healthRoutes, { prefix: '/health' })
  await app.register(metricsRoutes)
  for (const role of config.roles) {
    const routes = ROUTE_MODULES[role]
    const spec = ROLE_MANIFEST[role].routes
    if (routes !== undefined && spec !== null) await app.register(routes, { prefix: spec.prefix })
  }
  return app
}
