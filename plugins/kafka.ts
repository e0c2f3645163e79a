// The shared Kafka client, decorated as `kafka` for the roles that use Kafka (write and consumer; see the role
// manifest). Creating it connects nothing: producers, consumers and admins connect when their role starts them.
import fp from 'fastify-plugin'
import type { Kafka } from 'kafkajs'
import { createKafka } from '../src/bus/kafka.js'

declare module 'fastify' {
  interface FastifyInstance { kafka: Kafka }
}

export default fp(async (app) => {
  app.decorate('kafka', createKafka(app.config, app.log))
}, { name: 'kafka', dependencies: ['config'] })
