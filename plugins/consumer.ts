// The consumer role: one Kafka consumer group applying entity events to Redis. Starts when the server is ready,
// commits each offset only after its event is applied, and stops (committing) in onClose.
import fp from 'fastify-plugin'
import type { Consumer } from 'kafkajs'
import { ensureTopics } from './kafka.js'
import { parseEvent } from '../src/events/event.js'
import { applyEvent } from '../src/consumer/apply.js'

declare module 'fastify' {
  interface FastifyInstance { consumer: Consumer }
}

export default fp(async (app) => {
  const { eventsTopic, dlqTopic, topicPartitions, consumerGroup, cacheTtlSeconds } = app.config
  const consumer = app.kafka.consumer({ groupId: consumerGroup, sessionTimeout: 30_000, heartbeatInterval: 3000 })
  app.decorate('consumer', consumer)

  app.addHook('onReady', async () => {
    await ensureTopics(app.kafka, [eventsTopic, dlqTopic], topicPartitions)
    await consumer.connect()
    await consumer.subscribe({ topics: [eventsTopic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = parseEvent(message.value)
        await applyEvent(app.redis, event, cacheTtlSeconds)
      }
    })
  })

  // kafkajs gives up after its retries and stops the consumer: that must end the process, not leave a silent replica.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return
    app.log.fatal({ err: payload.error }, 'consumer crashed and will not restart; shutting down')
    process.emit('SIGTERM')
  })

  app.addHook('onClose', async () => { await consumer.disconnect() })
}, { name: 'consumer', dependencies: ['kafka', 'redis'] })
