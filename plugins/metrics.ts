// HTTP metrics for every route, and GET /metrics serving the Prometheus series this process's roles own.
// Requests are labelled by route template (`/get_server/posts/:id`), never the raw URL, so cardinality stays bounded;
// a request no route matched is labelled `unmatched`.
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { httpDuration, httpRequests, metricsFor, registry } from '../src/metrics.js'

export const UNMATCHED = 'unmatched'

export default fp(async (app) => {
  // A callback hook: it runs on every response and has nothing to wait for. fast-metrics finds each label set's
  // series in one Map lookup, so no per-route cache of handles is needed here.
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? UNMATCHED
    httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) })
    httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000)
    done()
  })

  app.get('/metrics', {
    schema: {
      tags: ['ops'],
      summary: 'Prometheus metrics',
      description: 'The Prometheus text exposition of the series this process\'s roles own (see README, Operations).',
      response: {
        200: {
          description: 'Prometheus text format 0.0.4',
          content: {
            [registry.contentType]: {
              schema: Type.String(),
              example: '# HELP pb_http_requests_total HTTP requests by route template and status\n' +
                '# TYPE pb_http_requests_total counter\n' +
                'pb_http_requests_total{method="GET",route="/get_server/posts/:id",status="200"} 42\n'
            }
          }
        }
      }
    }
  }, async (_req, reply) => {
    return await reply.type(registry.contentType).send(await metricsFor(app.config.roles))
  })
}, { name: 'metrics', dependencies: ['config'] })
