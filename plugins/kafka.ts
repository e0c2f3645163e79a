// The shared Kafka client, decorated as `kafka` for the roles that use Kafka (write and consumer; see the role
// manifest). Creating it connects nothing: producers, consumers and admins connect when their role starts them.
// With TLS or SASL set, readiness first checks that the brokers accept the credentials (src/bus/kafka.ts).
import fp from 'fastify-plugin'
import type { Kafka } from 'kafkajs'
import { checkAccess, createKafka } from '../src/bus/kafka.js'

declare module 'fastify' {
  interface FastifyInstance { kafka: Kafka }
}

export default fp(async (app) => {
  app.decorate('kafka', createKafka(app.config, app.log))
  // Registered before the roles' own onReady hooks, so it runs before any of them connects.
  app.addHook('onReady', async () => { await checkAccess(app.config, app.log) })
}, { name: 'kafka', dependencies: ['config'] })
