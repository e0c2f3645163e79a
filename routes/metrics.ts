// GET /metrics: the Prometheus text exposition of the series this process's roles own.
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { METRICS_CONTENT_TYPE, metricsText } from '../src/shared/metrics.js'

const routes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', {
    schema: {
      tags: ['ops'],
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      description: 'The Prometheus text exposition of the series this process\'s roles own (see docs/operations.md, Metrics).',
      response: {
        200: {
          description: 'Prometheus text format 0.0.4',
          content: {
            [METRICS_CONTENT_TYPE]: {
              schema: Type.String(),
              example: '# HELP pb_http_requests_total HTTP requests by role, route template and status\n' +
                '# TYPE pb_http_requests_total counter\n' +
                'pb_http_requests_total{role="read",method="GET",route="/get_server/posts/:id",status="200"} 42\n'
            }
          }
        }
      }
    }
  }, async (_req, reply) => {
    return await reply.type(METRICS_CONTENT_TYPE).send(await metricsText(app.metrics, app.config.roles))
  })
}
export default routes
