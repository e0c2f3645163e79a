// The shared Kafka client (kafkajs): decorates `kafka`, and creates the events and dead-letter topics when they are
// missing, so a fresh broker needs no manual set-up. Producers and consumers are created by the roles that need them.
import fp from 'fastify-plugin'
import kafkajs, { type Kafka as KafkaClient, type LogEntry } from 'kafkajs'

// kafkajs is CommonJS: its classes come off the default export under Node's ESM loader.
const { Kafka, logLevel } = kafkajs

declare module 'fastify' {
  interface FastifyInstance { kafka: KafkaClient }
}

// kafkajs logs through its own logger; route it into pino so every line has the same shape and level control.
function kafkaLogCreator (log: import('fastify').FastifyBaseLogger) {
  return () => ({ level, log: entry }: LogEntry) => {
    const { message, ...extra } = entry
    const fields = { kafka: extra }
    if (level === logLevel.ERROR) log.error(fields, `kafka: ${message}`)
    else if (level === logLevel.WARN) log.warn(fields, `kafka: ${message}`)
    else log.debug(fields, `kafka: ${message}`)
  }
}

export async function ensureTopics (kafka: KafkaClient, topics: string[], partitions: number): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = topics.filter((t) => !existing.has(t))
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: -1 }))
      })
    }
  } finally {
    await admin.disconnect()
  }
}

export default fp(async (app) => {
  const { kafkaBrokers, kafkaClientId } = app.config
  const kafka = new Kafka({
    clientId: kafkaClientId,
    brokers: kafkaBrokers,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(app.log)
  })
  app.decorate('kafka', kafka)
}, { name: 'kafka', dependencies: ['config'] })
