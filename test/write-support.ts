// Helpers for the write-path tests: short request helpers, polling, and reading the events topic back from Kafka.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Kafka } from 'kafkajs'
import type { Db } from 'mongodb'
import { parseEvent, type EntityEvent } from '../src/events/event.js'
import { metricsFor } from '../src/metrics.js'
import { countJournaled } from '../src/store/journal.js'
import { uniqueName } from './helper.js'

export async function post (app: FastifyInstance, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/post_server${url}`, ...(payload !== undefined && { payload: payload as object }), headers })
}

export async function createUser (app: FastifyInstance, username: string): Promise<{ user_id: number }> {
  const res = await post(app, '/users', { username })
  if (res.statusCode !== 201) throw new Error(`create user: ${res.statusCode} ${res.body}`)
  return res.json()
}

export async function createPost (app: FastifyInstance, userId: number, title = 'title'): Promise<{ post_id: number, like_count: number }> {
  const res = await post(app, '/posts', { user_id: userId, title, content: `content of ${title}` })
  if (res.statusCode !== 201) throw new Error(`create post: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** A write-role series' current value, as /metrics shows it (0 when not yet moved). */
export async function metric (name: string, labels = ''): Promise<number> {
  const line = (await metricsFor(new Set(['write']))).split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

/** Polls check until it returns something other than undefined, or fails after timeoutMs. */
export async function eventually<T> (check: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export interface Received { key: string, partition: number, event: EntityEvent }

/**
 * Reads the events topic from the beginning with a consumer group of its own until `done` says it has seen enough or
 * timeoutMs passes, and returns every event read, in the order each partition delivered them.
 */
export async function readEvents (kafka: Kafka, topic: string, done: (got: Received[]) => boolean, timeoutMs = 30_000): Promise<Received[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('pbtest.reader.') })
  const got: Received[] = []
  let finish!: () => void
  const finished = new Promise<void>((resolve) => { finish = resolve })
  const timer = setTimeout(finish, timeoutMs)
  try {
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        got.push({ key: String(message.key), partition, event: parseEvent(message.value) })
        if (done(got)) finish()
      }
    })
    await finished
  } finally {
    clearTimeout(timer)
    await consumer.disconnect()
  }
  return got
}

/** The latest version received per key. */
export function latestByKey (got: Received[]): Map<string, EntityEvent> {
  const latest = new Map<string, EntityEvent>()
  for (const { key, event } of got) {
    const seen = latest.get(key)
    if (seen === undefined || seen.version < event.version) latest.set(key, event)
  }
  return latest
}

/** Versions per key in arrival order. */
export function versionsByKey (got: Received[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>()
  for (const { key, event } of got) byKey.set(key, [...(byKey.get(key) ?? []), event.version])
  return byKey
}

/**
 * Entities whose latest change is not on Kafka yet: documents with a pending mark (pending_since, so marks an earlier
 * version wrote count too) plus the creates the journal still holds.
 */
export async function unpublished (db: Db): Promise<number> {
  return await db.collection('posts').countDocuments({ pending_since: { $exists: true } }) +
    await db.collection('users').countDocuments({ pending_since: { $exists: true } }) +
    await countJournaled(db)
}
