// Test helpers: an isolated configuration per test (own database, Redis key prefix, topics and consumer group on
// the shared real stack), an app built from it and closed in teardown, and the stack script as a function.
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { MongoClient } from 'mongodb'
import { Redis } from 'ioredis'
import kafkajs from 'kafkajs'
import { buildApp } from '../src/app.js'
import { loadConfig, type Config, type ConfigFlags } from '../src/config.js'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
const exec = promisify(execFile)

type Tap = { teardown: (fn: () => unknown) => void }

/** Where the stack runs; STACK_*_PORT lets a developer point tests at a private stack. */
export const stackEnv = {
  REDIS_URL: `redis://127.0.0.1:${process.env.STACK_REDIS_PORT ?? 6380}`,
  MONGODB_URL: `mongodb://127.0.0.1:${process.env.STACK_MONGO_PORT ?? 27018}`,
  KAFKA_BROKERS: `127.0.0.1:${process.env.STACK_KAFKA_PORT ?? 9092}`,
  LAMBDA_ENDPOINT: `http://127.0.0.1:${process.env.STACK_LAMBDA_PORT ?? 9001}`
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

/** Builds the app for a test, readies it, and in teardown closes it and drops what the test created. */
export async function build (t: Tap, flags: ConfigFlags = {}, extra: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = testConfig(flags, extra)
  const app = await buildApp(config, { logger: false })
  t.teardown(async () => {
    await app.close()
    await dropNamespace(config)
  })
  await app.ready()
  return app
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
  const admin = new kafkajs.Kafka({ brokers: config.kafkaBrokers, logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 1 } }).admin()
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
