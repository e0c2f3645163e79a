// Benchmark data and servers: a namespace of its own on the local stack (database, Redis key prefix, topics), seeding
// through the real write API (small sets) or in bulk into MongoDB (the list-scale sets), and postboard servers started
// from the built dist/ as separate processes.
import { createServer, type AddressInfo } from 'node:net'
import kafkajs from 'kafkajs'
// The fix postboard runs kafkajs with (src/bus/kafkajs-request-queue.ts): without it, the bench's own admin client
// printed a TimeoutNegativeWarning.
import '../../src/bus/kafkajs-request-queue.js'
import { MongoClient } from 'mongodb'
import { Redis } from 'ioredis'
import { mintToken } from '../../src/identity/token.js'
import { loadConfig } from '../../src/shared/config.js'
import { startServer, type Server } from './processes.js'

const NS = 'pbbench'

/** Environment for one benchmark namespace; `name` separates data sets (e.g. the list-scale sizes). */
export function benchEnv (name: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MONGODB_DATABASE: `${NS}_${name}`,
    REDIS_KEY_PREFIX: `${NS}:${name}:`,
    KAFKA_EVENTS_TOPIC: `${NS}.${name}.events`,
    KAFKA_DLQ_TOPIC: `${NS}.${name}.dlq`,
    KAFKA_CONSUMER_GROUP: `${NS}.${name}`,
    ...extra
  }
}

/** A postboard process from dist/ on a free port, at every default setting but what env and flags say. */
export async function postboard (roles: string, env: Record<string, string>, flags: string[] = []): Promise<Server> {
  const port = await freePort()
  return await startServer(['dist/src/cli.js', '--role', roles, '--port', String(port), ...flags], env, port)
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function token (subject: string): Promise<string> {
  return await mintToken(loadConfig({}, {}).token, subject, 3600)
}

async function postJson (url: string, body: unknown): Promise<{ status: number, json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() as Record<string, unknown> }
}

/** Creates users and posts through a write server's real API; returns their ids. */
export async function seedViaApi (write: Server, users: number, posts: number): Promise<{ userIds: number[], postIds: number[] }> {
  const userIds: number[] = []
  const stamp = Date.now().toString(36)
  for (let i = 0; i < users; i++) {
    const r = await postJson(`${write.url}/post_server/users`, { username: `bench-${stamp}-${i}` })
    if (r.status !== 201) throw new Error(`seeding a user answered ${r.status}: ${JSON.stringify(r.json)}`)
    userIds.push(r.json.user_id as number)
  }
  const postIds: number[] = []
  const batch = 20
  for (let i = 0; i < posts; i += batch) {
    const made = await Promise.all(Array.from({ length: Math.min(batch, posts - i) }, async (_, j) => {
      const r = await postJson(`${write.url}/post_server/posts`, {
        user_id: userIds[(i + j) % userIds.length],
        title: `Benchmark post ${i + j}`,
        content: `A post of ordinary length for the benchmark. ${'lorem ipsum dolor sit amet '.repeat(10)}`
      })
      if (r.status !== 201) throw new Error(`seeding a post answered ${r.status}: ${JSON.stringify(r.json)}`)
      return r.json.post_id as number
    }))
    postIds.push(...made)
  }
  return { userIds, postIds }
}

/**
 * Drops a namespace's database, Redis keys, topics and consumer group, so a run starts from nothing. The topics go
 * too: events left in them by an earlier run (or a probe with no consumer) carry that run's versions, and a consumer
 * applying them would put a previous data set's entries, at higher versions, into this run's cache.
 */
export async function dropNamespace (env: Record<string, string>): Promise<void> {
  const config = loadConfig({}, env)
  const admin = new kafkajs.Kafka({ brokers: config.kafkaBrokers, logLevel: kafkajs.logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    const topics = (await admin.listTopics()).filter((t) => t === config.eventsTopic || t === config.dlqTopic)
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 })
    // Deleted asynchronously: the servers started next create them again, which fails while they still exist.
    await until('the topics to be deleted', async () => !(await admin.listTopics()).some((t) => topics.includes(t)), 30_000)
    await admin.deleteGroups([config.consumerGroup]).catch(() => [])
  } finally {
    await admin.disconnect()
  }
  const mongo = new MongoClient(config.mongoUrl)
  await mongo.db(config.mongoDatabase).dropDatabase()
  await mongo.close()
  const redis = new Redis(config.redisUrl)
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.redisKeyPrefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
  redis.disconnect()
}

/** Waits until fn returns true, polling; throws after `ms`. */
export async function until (what: string, fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!await fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
