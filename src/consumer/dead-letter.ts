// Writes a message the consumer gave up on to the dead-letter topic: the original key, value and headers untouched
// (so it can be replayed once fixed), plus headers saying why, from where, and after how many tries.
import type { KafkaMessage, Producer } from 'kafkajs'
import type { MessageSource } from './handle-message.js'

export const DLQ_HEADERS = {
  reason: 'x-dlq-reason',
  source: 'x-dlq-source',
  attempts: 'x-dlq-attempts',
  at: 'x-dlq-at'
} as const

export async function deadLetter (producer: Producer, dlqTopic: string, from: MessageSource, message: KafkaMessage,
  reason: string, attempts: number): Promise<void> {
  await producer.send({
    topic: dlqTopic,
    acks: -1,
    messages: [{
      key: message.key,
      value: message.value,
      headers: {
        ...message.headers,
        [DLQ_HEADERS.reason]: reason,
        [DLQ_HEADERS.source]: `${from.topic}/${from.partition}/${message.offset}`,
        [DLQ_HEADERS.attempts]: String(attempts),
        [DLQ_HEADERS.at]: new Date().toISOString()
      }
    }]
  })
}
