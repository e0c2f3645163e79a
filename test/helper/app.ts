// A test's own namespace on the shared real stack (own database, Redis key prefix, topics and consumer group), the
// one app builder (closed, and its namespace dropped, in teardown), and the stack script as a function.
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { MongoClient, type Db } from 'mongodb'
import { Redis } from 'ioredis'
import kafkajs from 'kafkajs'
import { buildApp } from '../../src/app.js'
import { securityOptions } from '../../src/bus/kafka.js'
import { loadConfig, type Config, type ConfigFlags } from '../../src/shared/config.js'
import './linger.js'

/** The repository root (this file is test/helper/app.ts). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const exec = promisify(execFile)

/** What the helpers need of a tap test: its teardown, and comment for the FIGURE lines. */
export interface Tap { teardown: (fn: () => unknown) => void, comment: (...args: unknown[]) => void }

/** Where the stack runs; STACK_*_PORT lets a developer point tests at a private stack. */
export const stackEnv = {
  REDIS_URL: `redis://127.0.0.1:${process.env.STACK_REDIS_PORT ?? 6380}`,
  MONGODB_URL: `mongodb://127.0.0.1:${process.env.STACK_MONGO_PORT ?? 27018}`,
  KAFKA_BROKERS: `127.0.0.1:${process.env.STACK_KAFKA_PORT ?? 9092}`,
  LAMBDA_ENDPOINT: `http://127.0.0.1:${process.env.STACK_LAMBDA_PORT ?? 9001}`
}

/**
 * The stack broker's TLS and SASL listeners (stack/services/kafka.sh): their brokers, the files its openssl wrote
 * (CA, client certificate and key) and the SASL user; its password is read when asked for, once the stack is up.
 */
export const stackKafkaSecurity = {
  sslBrokers: `127.0.0.1:${process.env.STACK_KAFKA_SSL_PORT ?? 9094}`,
  saslBrokers: `127.0.0.1:${process.env.STACK_KAFKA_SASL_PORT ?? 9095}`,
  dir: join(process.env.POSTBOARD_STACK_DIR ?? join(ROOT, '.stack'), 'kafka', 'security'),
  user: 'postboard',
  password: (): string => readFileSync(join(stackKafkaSecurity.dir, 'sasl-password'), 'utf8').trim()
}

/** Reads in these tests run without the identity check, which has tests of its own. */
export const NO_IDENTITY = { IDENTITY_MODE: 'off' }

/**
 * The app's MongoDB database, for a test to look at or seed directly: the read pool's where the app serves reads,
 * else the write pool's. (A write role with a connection per write has neither; tests open their own client there.)
 */
export function dbOf (app: FastifyInstance): Db {
  const db = app.mongo?.read?.db ?? app.mongo?.write?.db
  if (db === undefined) throw new Error('this app has no MongoDB pool (a consumer, or a write role with a connection per write)')
  return db
}

export function uniqueName (prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
}

/** Settings for one test: the real stack, but a namespace of its own everywhere. */
export function isolatedEnv (extra: Record<string, string> = {}): Record<string, string> {
  const ns = uniqueName('t')
  return {
    ...stackEnv,
    MONGODB_DATABASE: `pbtest_${ns}`,
    REDIS_KEY_PREFIX: `${ns}:`,
    KAFKA_EVENTS_TOPIC: `pbtest.${ns}.events`,
    KAFKA_DLQ_TOPIC: `pbtest.${ns}.dlq`,
    KAFKA_CONSUMER_GROUP: `pbtest.${ns}`,
    KAFKA_TOPIC_PARTITIONS: '3',
    LOG_LEVEL: 'silent',
    // Tests about other things read without tokens; identity tests set IDENTITY_MODE themselves (lambda or local).
    IDENTITY_MODE: 'off',
    ...extra
  }
}

export function testConfig (flags: ConfigFlags = {}, extra: Record<string, string> = {}): Config {
  return loadConfig(flags, isolatedEnv(extra))
}

/**
 * Builds the app for a test, readies it, and closes it in teardown.
 * - build(t, flags, extra, logs?): on a namespace of its own (testConfig), which teardown drops after the close; its
 *   warnings and errors go to logs (keptLogs) when given, else nowhere.
 * - build(t, config): on a namespace shared with other apps or processes of the same test (several replicas); its
 *   owner drops it (register that teardown first: tap runs teardowns last in, first out).
 */
export async function build (t: Tap, flags?: ConfigFlags, extra?: Record<string, string>, logs?: KeptLogs): Promise<FastifyInstance>
export async function build (t: Tap, config: Config): Promise<FastifyInstance>
export async function build (t: Tap, flagsOrConfig: ConfigFlags | Config = {}, extra: Record<string, string> = {}, logs?: KeptLogs): Promise<FastifyInstance> {
  const shared = 'roles' in flagsOrConfig
  const config = shared ? flagsOrConfig : testConfig(flagsOrConfig, extra)
  const app = await buildApp(config, { logger: logs?.logger ?? false })
  t.teardown(async () => {
    await app.close()
    if (!shared) await dropNamespace(config)
  })
  await app.ready()
  return app
}

/** The app's warnings and errors, the last `max` lines of them (each cut at 600 characters), for a failure to show. */
export interface KeptLogs { logger: object, lines: () => string[] }

export function keptLogs (max = 40): KeptLogs {
  const kept: string[] = []
  const write = (line: string): void => {
    kept.push(line.trimEnd().slice(0, 600))
    if (kept.length > max) kept.shift()
  }
  return { logger: { level: 'warn', stream: { write } }, lines: () => [...kept] }
}

/** Removes a test's database, Redis keys and topics. */
export async function dropNamespace (config: Config): Promise<void> {
  const mongo = new MongoClient(config.mongoUrl, { serverSelectionTimeoutMS: 3000 })
  await mongo.db(config.mongoDatabase).dropDatabase().catch(() => {})
  await mongo.close()
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    const keys = await redis.keys(`${config.redisKeyPrefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  } catch { /* Redis may be stopped by the test itself */ } finally {
    redis.disconnect()
  }
  const admin = new kafkajs.Kafka({ brokers: config.kafkaBrokers, ...securityOptions(config.kafkaSecurity), logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 1 } }).admin()
  try {
    await admin.connect()
    const mine = (await admin.listTopics()).filter((t) => t === config.eventsTopic || t === config.dlqTopic)
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 5000 })
  } catch { /* Kafka may be stopped by the test itself */ } finally {
    await admin.disconnect()
  }
}

/** Runs stack/stack.sh with the same environment the tests use. */
export async function stack (...args: string[]): Promise<{ stdout: string, stderr: string }> {
  return await exec('bash', [`${ROOT}/stack/stack.sh`, ...args], { cwd: ROOT, timeout: 170_000 })
}
