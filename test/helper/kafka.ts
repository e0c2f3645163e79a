// Kafka from a test's side: a client and a producer on the test's own topics, consumer-group catch-up, and reading
// the events topic back.
import kafkajs, { type Kafka, type Message } from 'kafkajs'
import type { Config } from '../../src/shared/config.js'
import { securityOptions } from '../../src/bus/kafka.js'
import { parseEvent, type EntityEvent } from '../../src/shared/event.js'
import { uniqueName, type Tap } from './app.js'
import { waitFor } from './wait.js'

export function kafkaFor (config: Config): Kafka {
  return new kafkajs.Kafka({ brokers: config.kafkaBrokers, ...securityOptions(config.kafkaSecurity), clientId: 'pbtest', logLevel: kafkajs.logLevel.NOTHING })
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

export interface Received { key: string, partition: number, event: EntityEvent, headers: Record<string, string> }

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
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]))
        got.push({ key: String(message.key), partition, event: parseEvent(message.value), headers })
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
