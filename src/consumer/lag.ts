// Polls the consumer group's lag (messages between its committed offset and each partition's end) into the
// consumerLag gauge. Polling the broker, rather than reading it off fetched batches, keeps the gauge growing while the
// consumer is stuck (Redis down), which is exactly when an operator looks at it.
import type { FastifyBaseLogger } from 'fastify'
import type { Kafka } from 'kafkajs'
import type { Metrics } from '../shared/metrics.js'

export interface LagPoller { stop: () => Promise<void> }

export function pollLag (kafka: Kafka, groupId: string, topic: string, intervalMs: number, log: FastifyBaseLogger,
  { consumerLag }: Pick<Metrics, 'consumerLag'>): LagPoller {
  const admin = kafka.admin()
  let connected: Promise<void> | null = null
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  let stopped = false

  async function once (): Promise<void> {
    connected ??= admin.connect()
    await connected
    const [ends, [committed]] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] })
    ])
    for (const end of ends) {
      const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1'
      // No commit yet: the group starts from the beginning, so everything still on the partition is lag.
      const from = Number(at) >= 0 ? Number(at) : Number(end.low)
      consumerLag.set({ partition: String(end.partition) }, Math.max(0, Number(end.high) - from))
    }
  }

  function schedule (): void {
    timer = setTimeout(() => {
      running = once().catch(/* c8 ignore next 3 -- needs Kafka down; the gauge keeps its last value meanwhile */ (err: unknown) => {
        connected = null // reconnect next time
        log.debug({ err }, 'consumer lag poll failed; trying again')
      }).finally(() => { if (!stopped) schedule() })
    }, intervalMs)
    timer.unref()
  }
  schedule()

  return {
    async stop () {
      stopped = true
      clearTimeout(timer)
      await running
      await admin.disconnect()
    }
  }
}
