// Request logging. Fastify's own logs two lines for every request, which cost up to 40% of a cached GET's
// throughput; by default (REQUEST_LOG=errors) only what an operator looks for is logged: a request that took longer
// than SLOW_REQUEST_MS or answered 5xx, one warn line each with its timing (failures and rejections are also logged
// by the error handler, plugins/errors.ts). REQUEST_LOG=all restores Fastify's two lines per request
// (app.ts gives Fastify a LogController with disableRequestLogging from the same setting).
import fp from 'fastify-plugin'

export default fp(async (app) => {
  const { mode, slowMs } = app.config.requestLog
  if (mode !== 'errors') return
  app.addHook('onResponse', (req, reply, done) => {
    const ms = reply.elapsedTime
    if (ms >= slowMs || reply.statusCode >= 500) {
      req.log.warn({ req, res: reply, responseTime: ms }, ms >= slowMs ? `slow request: ${Math.round(ms)} ms` : 'request completed with a server error')
    }
    done()
  })
}, { name: 'request-log', dependencies: ['config'] })
