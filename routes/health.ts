// /health/live (the process answers) and /health/ready (the role's dependencies answer), for orchestrators.
// Ready is 503 only when a dependency the role cannot work without is down; an outage the role survives (Redis for
// reads, Kafka for writes) is reported as "degraded" with a 200, so the replica keeps taking traffic.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { checkDependencies, warmKafkaProbe } from '../src/health/checks.js'

const Check = Type.Union([Type.Literal('ok'), Type.Literal('down')])
const Ready = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable')]),
  roles: Type.Array(Type.String()),
  checks: Type.Record(Type.String(), Check)
})

const routes: FastifyPluginAsyncTypebox = async (app) => {
  if (app.hasDecorator('kafka')) app.addHook('onReady', async () => { warmKafkaProbe(app) })

  app.get('/live', {
    schema: { tags: ['health'], summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: { tags: ['health'], summary: 'Readiness of this role\'s dependencies', response: { 200: Ready, 503: Ready } }
  }, async (_req, reply) => {
    const result = await checkDependencies(app)
    return await reply.code(result.status === 'unavailable' ? 503 : 200).send(result)
  })
}
export default routes
