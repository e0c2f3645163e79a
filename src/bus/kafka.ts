// The Kafka client (kafkajs) every Kafka-using role shares, logging through pino, and the topic set-up that lets a
// fresh broker need no manual step. Producers and consumers are created by the roles that need them.
import kafkajs, { type Kafka, type LogEntry, type RetryOptions } from 'kafkajs'
import type { FastifyBaseLogger } from 'fastify'
import type { Timeouts } from '../shared/config.js'

// kafkajs is CommonJS: its classes come off the default export under Node's ESM loader.
const { logLevel } = kafkajs

export interface KafkaSettings { kafkaBrokers: string[], kafkaClientId: string, timeouts: Pick<Timeouts, 'kafkaRequestMs' | 'kafkaConnectionMs'> }

// kafkajs logs through its own logger; route it into pino so every line has the same shape and level control.
function logCreator (log: FastifyBaseLogger) {
  return () => ({ level, log: entry }: LogEntry) => {
    const { message, ...extra } = entry
    const fields = { kafka: extra }
    if (level === logLevel.ERROR) log.error(fields, `kafka: ${message}`)
    else if (level === logLevel.WARN) log.warn(fields, `kafka: ${message}`)
    else log.debug(fields, `kafka: ${message}`)
  }
}

/** How kafkajs retries a request or a connection before giving up (about 10 s with these). */
const DEFAULT_RETRY: RetryOptions = { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 }

/**
 * A client; it connects nothing until a producer, consumer or admin made from it does. `retry` also governs
 * connecting to the brokers, which a consumer's own retry option does not reach.
 */
export function createKafka (settings: KafkaSettings, log: FastifyBaseLogger, retry: RetryOptions = DEFAULT_RETRY): Kafka {
  return new kafkajs.Kafka({
    clientId: settings.kafkaClientId,
    brokers: settings.kafkaBrokers,
    connectionTimeout: settings.timeouts.kafkaConnectionMs,
    requestTimeout: settings.timeouts.kafkaRequestMs,
    retry,
    logLevel: logLevel.WARN,
    logCreator: logCreator(log)
  })
}

/** Creates the topics that are missing, with `partitions` partitions each. */
export async function ensureTopics (kafka: Kafka, topics: string[], partitions: number): Promise<void> {
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
