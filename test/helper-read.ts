// Helpers for the read-path and consumer tests: documents and events shaped like the write path's, a producer on a
// test's own events topic, polling with a deadline, consumer-group catch-up, and metric values.
import kafkajs, { type Kafka, type Message } from 'kafkajs'
import type { Db } from 'mongodb'
import type { Redis } from 'ioredis'
import type { Config } from '../src/config.js'
import type { FastCounter, FastHistogram } from '../src/fast-metrics.js'
import { eventKey, type EntityEvent } from '../src/events/event.js'
import { posts, toPost, toUser, users, type PostDoc, type UserDoc } from '../src/store/collections.js'
import { entityKey } from '../src/cache/keys.js'

type Tap = { teardown: (fn: () => unknown) => void }

/** Reads in these tests run without the identity check, which has tests of its own. */
export const NO_IDENTITY = { IDENTITY_MODE: 'off' }

export function userDoc (id: number, version = 1, username = `user-${id}`): UserDoc {
  return { _id: id, username, created_at: new Date(Date.UTC(2024, 0, 1, 0, 0, id % 60)), version }
}

/** A post at `version`: the write path starts at 1 and adds one per reaction, so likes = version - 1 here. */
export function postDoc (id: number, version = 1, userId = 1): PostDoc {
  return {
    _id: id,
    user_id: userId,
    title: `title ${id}`,
    content: `content of post ${id}`,
    like_count: version - 1,
    dislike_count: 0,
    created_at: new Date(Date.UTC(2024, 0, 1, 0, 0, id % 60)),
    version
  }
}

export async function insertPosts (db: Db, docs: PostDoc[]): Promise<void> {
  if (docs.length > 0) await posts(db).insertMany(docs)
}

export async function insertUsers (db: Db, docs: UserDoc[]): Promise<void> {
  if (docs.length > 0) await users(db).insertMany(docs)
}

export function eventOf (doc: PostDoc | UserDoc): EntityEvent {
  const occurred = new Date().toISOString()
  return 'title' in doc
    ? { type: 'post', id: doc._id, version: doc.version, data: toPost(doc), occurred_at: occurred }
    : { type: 'user', id: doc._id, version: doc.version, data: toUser(doc as UserDoc), occurred_at: occurred }
}

/** A Kafka message exactly as the write path publishes one: key = "<type>:<id>", value = the event JSON. */
export function messageOf (event: EntityEvent): Message {
  return { key: eventKey(event.type, event.id), value: JSON.stringify(event) }
}

export function kafkaFor (config: Config): Kafka {
  return new kafkajs.Kafka({ brokers: config.kafkaBrokers, clientId: 'pbtest', logLevel: kafkajs.logLevel.NOTHING })
}

export interface Publisher { send: (messages: Message[], topic?: string) => Promise<void>, kafka: Kafka }

/** A producer on the test's events topic (creating it if the app has not yet), disconnected in teardown. */
export async function publisher (t: Tap, config: Config): Promise<Publisher> {
  const kafka = kafkaFor(config)
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: kafkajs.Partitioners.DefaultPartitioner })
  await producer.connect()
  t.teardown(async () => { await producer.disconnect() })
  return {
    kafka,
    async send (messages, topic = config.eventsTopic) {
      await producer.send({ topic, acks: -1, messages })
    }
  }
}

/** Polls fn until it returns something other than undefined/false, or fails after timeoutMs naming what it waited for. */
export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? ` (last error: ${String(last)})` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Resolves once the group has committed every partition of the topic up to its end. */
export async function waitCaughtUp (kafka: Kafka, groupId: string, topic: string, timeoutMs = 30_000): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await waitFor(`group ${groupId} to commit ${topic} to its end`, async () => {
      const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })])
      return ends.every((end) => {
        const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1'
        return Number(end.high) === 0 || Number(at) === Number(end.high)
      })
    }, timeoutMs, 200)
  } finally {
    await admin.disconnect()
  }
}

/** The cached entry for an entity: { v, d } as stored, or null when there is none. */
export async function entryOf (redis: Redis, type: 'post' | 'user', id: number): Promise<{ v: number, d: string } | null> {
  const [v, d] = await redis.hmget(entityKey(type, id), 'v', 'd')
  return v == null || d == null ? null : { v: Number(v), d }
}

/** Current value of a counter (or a histogram's _count) for the given labels; 0 when never moved. */
export async function metricValue (metric: FastCounter | FastHistogram, labels: Record<string, string> = {}): Promise<number> {
  const data = await metric.get()
  const wanted = String(data.type) === 'histogram' ? `${data.name}_count` : data.name
  return data.values
    .filter((v) => ((v as { metricName?: string }).metricName ?? data.name) === wanted)
    .filter((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val))
    .reduce((sum, v) => sum + v.value, 0)
}
