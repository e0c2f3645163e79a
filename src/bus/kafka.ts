// The Kafka client (kafkajs) every Kafka-using role shares, logging through pino, and the topic set-up that lets a
// fresh broker need no manual step. Producers and consumers are created by the roles that need them.
import kafkajs, { type Kafka, type KafkaConfig, type LogEntry, type RetryOptions, type SASLOptions } from 'kafkajs'
import type { FastifyBaseLogger } from 'fastify'
import type { Timeouts } from '../shared/config.js'
import type { KafkaSecurity } from '../shared/kafka-security.js'
// Before any client exists: stops every broker connection waking each millisecond (see the file).
import './kafkajs-request-queue.js'

// kafkajs is CommonJS: its classes come off the default export under Node's ESM loader.
const { logLevel } = kafkajs

export interface KafkaSettings {
  kafkaBrokers: string[]
  kafkaClientId: string
  kafkaSecurity: KafkaSecurity
  timeouts: Pick<Timeouts, 'kafkaRequestMs' | 'kafkaConnectionMs'>
}

/** kafkajs's `ssl` and `sasl` options for these settings (nothing for a plaintext broker). */
export function securityOptions (security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  return {
    ...(security.ssl !== false && { ssl: Object.keys(security.ssl).length === 0 ? true : { ...security.ssl } }),
    // kafkajs types each mechanism as its own object; ours is the same shape with the mechanism as a union.
    ...(security.sasl !== undefined && { sasl: { ...security.sasl } as SASLOptions })
  }
}

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
    ...securityOptions(settings.kafkaSecurity),
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

/** The brokers refused this client's credentials: a setting to fix, not an outage to wait out. */
export class KafkaAccessError extends Error {}

/** Node's codes for a TLS handshake that failed on a certificate (ours or the broker's), and the broker's alerts. */
const TLS_REFUSAL = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/

/** Why the brokers refused these settings, naming them; undefined when the error is anything else (an outage). */
export function refusal (err: unknown, security: KafkaSecurity): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (e.name === 'KafkaJSSASLAuthenticationError' && security.sasl !== undefined) {
      return `KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD: the brokers refused user '${security.sasl.username}' ` +
        `(${security.sasl.mechanism}): ${e.message}`
    }
    const code = (e as { code?: unknown }).code
    if (security.ssl !== false && typeof code === 'string' && TLS_REFUSAL.test(code)) {
      return `KAFKA_SSL_CA_PATH, KAFKA_SSL_CERT_PATH, KAFKA_SSL_KEY_PATH: the TLS handshake with the brokers failed: ${e.message}`
    }
  }
  return undefined
}

/**
 * One connection at boot when TLS or SASL is set: credentials the brokers refuse stop the process with a message
 * naming the settings (KafkaAccessError); brokers that cannot be reached are left to the roles, which ride out
 * outages (the write role's relay, the consumer's retries).
 */
export async function checkAccess (settings: KafkaSettings, log: FastifyBaseLogger): Promise<void> {
  const { ssl, sasl } = settings.kafkaSecurity
  if (ssl === false && sasl === undefined) return
  const admin = createKafka(settings, log, { retries: 0 }).admin()
  try {
    await admin.connect()
  } catch (err) {
    const why = refusal(err, settings.kafkaSecurity)
    if (why !== undefined) throw new KafkaAccessError(why)
    log.debug({ err }, 'kafka: access not checked at start (brokers unreachable)')
  } finally {
    await admin.disconnect()
  }
}
