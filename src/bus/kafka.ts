// The Kafka client (kafkajs) every Kafka-using role shares, logging through pino, and the topic set-up that lets a
// fresh broker need no manual step. Producers and consumers are created by the roles that need them.
import kafkajs, { type Kafka, type KafkaConfig, type LogEntry, type RetryOptions, type SASLOptions } from 'kafkajs'
import type { FastifyBaseLogger } from 'fastify'
import { createRequire } from 'node:module'
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

// kafkajs's table of Kafka protocol errors (the same one its retry logic reads), for the messages it retries.
const require = createRequire(import.meta.url)
const { errorCodes } = require('kafkajs/src/protocol/error') as { errorCodes: Array<{ message: string, retriable: boolean }> }
const RETRIED = new Set(errorCodes.filter((e) => e.retriable).map((e) => e.message))

/**
 * The level a kafkajs log line is written at. kafkajs logs every broker answer that carries an error at error level
 * ("Response GroupCoordinator …: The group coordinator is not available") before its own retry handles it, so a
 * normal first start, while the broker is still loading its coordinators and leaders, printed errors that were not
 * failures. Those answers are debug: kafkajs retries them, and if the retries run out the caller gets the error (and
 * logs it, at error). So is a CreateTopics answer's "Topic creation errors": a topic another process (or this one's
 * other role) created first is one, and ensureTopics itself logs any other failure at error. A retried send's
 * retriable failure is a warning; every other error stays an error.
 */
export function kafkaLogLevel (level: number, message: string, extra: Record<string, unknown>): 'error' | 'warn' | 'debug' {
  if (level === logLevel.ERROR) {
    const error = typeof extra.error === 'string' ? extra.error : ''
    if (message.startsWith('Response ') && (RETRIED.has(error) || (message.startsWith('Response CreateTopics') && error === 'Topic creation errors'))) return 'debug'
    const sendFailure = /^Failed to send messages: (.*)$/.exec(message)
    if (sendFailure !== null && RETRIED.has(sendFailure[1]!)) return 'warn'
    return 'error'
  }
  // Said on every producer's start: the publisher limits its retries on purpose (src/outbox/publisher.ts says why).
  if (level === logLevel.WARN && message.startsWith('Limiting retries for the idempotent producer')) return 'debug'
  return level === logLevel.WARN ? 'warn' : 'debug'
}

// kafkajs logs through its own logger; route it into pino so every line has the same shape and level control.
function logCreator (log: FastifyBaseLogger) {
  return () => ({ level, log: entry }: LogEntry) => {
    const { message, ...extra } = entry
    log[kafkaLogLevel(level, message, extra)]({ kafka: extra }, `kafka: ${message}`)
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

/**
 * Creates the topics that are missing, with `partitions` partitions each. A topic created meanwhile by another
 * process is no failure (kafkajs takes "already exists" as done); any other failure is logged here, at error.
 */
export async function ensureTopics (kafka: Kafka, topics: string[], partitions: number, log: FastifyBaseLogger): Promise<void> {
  const admin = kafka.admin()
  try {
    await admin.connect()
    const existing = new Set(await admin.listTopics())
    const missing = topics.filter((t) => !existing.has(t))
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: -1 }))
      })
    }
  } catch (err) {
    log.error({ err, topics }, 'kafka: could not create the topics')
    throw err
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
