// /health/live (the process answers) and /health/ready (the role's dependencies answer), for orchestrators.
// Ready is 503 only when a dependency the role cannot work without is down; an outage the role survives (Redis for
// reads, Kafka for writes) is reported as "degraded" with a 200, so the replica keeps taking traffic, and `detail`
// says what the role does meanwhile. While the server shuts down every route, ready included, answers 503.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Readiness } from '../src/shared/schemas.js'
import { KafkaProbe, checkDependencies, type Probes } from '../src/health/checks.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  // One probe per client this process opened (the role manifest decided which): a dependency the roles do not use
  // is never probed, so it can be down (or absent) without making this process unready.
  const roles = [...app.config.roles]
  const probes: Probes = { redis: async () => await app.redis.ping() }
  const readDb = app.mongo?.read?.db
  if (readDb !== undefined) probes.mongo = async () => await readDb.command({ ping: 1 })
  else if (app.hasDecorator('runWrite')) probes.mongo = async () => await app.runWrite(async (db) => await db.command({ ping: 1 }))
  if (app.hasDecorator('kafka')) {
    const kafka = new KafkaProbe(app.kafka)
    probes.kafka = async () => await kafka.describe()
    app.addHook('onReady', async () => { kafka.warm() })
    app.addHook('onClose', async () => { await kafka.close() })
  }

  app.get('/live', {
    schema: {
      tags: ['health'],
      operationId: 'getLiveness',
      summary: 'Liveness: the process answers',
      description: 'Never probes a dependency, so an outage elsewhere cannot get a healthy process restarted.',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'Alive', examples: [{ status: 'ok' }] }) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: {
      tags: ['health'],
      operationId: 'getReadiness',
      summary: 'Readiness of this role\'s dependencies',
      description: 'Route traffic here while this answers 200 (ok or degraded); stop on 503.',
      response: {
        200: {
          ...Readiness,
          description: 'Ready (ok, or degraded with detail)',
          examples: [{
            status: 'degraded',
            roles: ['read'],
            checks: { redis: 'down', mongo: 'ok' },
            detail: { redis: 'cache bypassed: reads are served from MongoDB' }
          }]
        },
        503: {
          ...Readiness,
          description: 'Not ready: a dependency the role needs is down, or the server is shutting down',
          examples: [{
            status: 'unavailable',
            roles: ['consumer'],
            checks: { kafka: 'down', redis: 'ok' },
            detail: { kafka: 'no events can be consumed' }
          }]
        }
      }
    }
  }, async (_req, reply) => {
    const result = await checkDependencies(roles, probes)
    return await reply.code(result.status === 'unavailable' ? 503 : 200).send(result)
  })
}
export default routes
