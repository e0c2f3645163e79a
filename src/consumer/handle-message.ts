// Handles events-topic messages: parse, apply through the version CAS, wait out Redis outages without skipping
// (not the message's fault), retry any other failure a bounded number of times with backoff, then dead-letter it so
// the partition moves on. Runs of messages that apply cleanly go to Redis together, one round trip per run
// (applyLeading); the first message that does not is handled on its own, with all of the above.
// Slightly longer than most files: the fast path (a run applied at once) and the slow path (one message with its
// retries and dead letter) must agree on offsets, so they stay side by side.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { KafkaMessage } from 'kafkajs'
import { isRedisUnavailable } from '../cache/redis-errors.js'
import { PoisonEvent, parseEvent, type EntityEvent } from '../shared/event.js'
import type { Metrics } from '../shared/metrics.js'
import { applyEvent, applyEvents } from '../cache/apply.js'
import { SpanKind, TRACEPARENT, TRACING_OFF, endSpan, remoteContext, startSpan, type Span, type Tracing } from '../shared/tracing.js'

export interface RetryPolicy {
  /** Tries for a message that fails for its own reasons (bad JSON, unknown type, refused by Redis) before the DLQ. */
  maxAttempts: number
  /** First backoff; doubles per try, for failures and for Redis outages alike. */
  baseDelayMs: number
  /** Cap on the backoff while Redis is unreachable (retried for as long as it takes). */
  maxDelayMs: number
}

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 }

export interface HandlerDeps {
  redis: Redis
  ttlSeconds: number
  /** Writes the message to the dead-letter topic; throws when it could not (the message is then not skipped). */
  deadLetter: (from: MessageSource, message: KafkaMessage, reason: string, attempts: number) => Promise<void>
  log: FastifyBaseLogger
  metrics: Pick<Metrics, 'casRejections' | 'consumerApplied' | 'consumerApplyDuration' | 'consumerFreshness' | 'dlqMessages'>
  retry?: RetryPolicy
  /** Spans for each apply, under the trace its message's `traceparent` header names (off by default). */
  tracing?: Tracing
}

/** One message's apply span and its Redis CAS span below it (both null when tracing is off). */
interface ApplySpans { apply: Span | null, cas: Span | null }

export interface MessageSource { topic: string, partition: number }

export interface MessageControl extends MessageSource {
  /** Keeps the group membership alive while a message waits; throws on a rebalance (the batch must end). */
  heartbeat: () => Promise<void>
  /** False once the consumer is stopping or the partition moved: give up without marking the message done. */
  active: () => boolean
}

/** applied/stale/dead_lettered: done, resolve the offset. stopped: leave it for whoever consumes the partition next. */
export type Outcome = 'applied' | 'stale' | 'dead_lettered' | 'stopped'

type Step = { done: 'applied' | 'stale' } | { redisDown: Error } | { failed: string }

export interface MessageHandler {
  /** Handles one message to its outcome: applied, stale, dead-lettered, or stopped (left unresolved). */
  handle: (message: KafkaMessage, control: MessageControl) => Promise<Outcome>
  /**
   * Applies the longest leading run of messages that parse and apply cleanly, in one Redis round trip, and returns
   * its length: those are done (counted, ready to resolve). Returns 0 when the first message needs `handle` (it does
   * not parse, Redis refused it, or Redis is unreachable). Events are idempotent by version, so a run cut short by a
   * failure is safe to apply again from its first undone message (events after the cut that landed are then counted
   * stale, not applied).
   */
  applyLeading: (messages: KafkaMessage[]) => Promise<number>
}

export function createMessageHandler (deps: HandlerDeps): MessageHandler {
  const { redis, ttlSeconds, deadLetter, log } = deps
  const { casRejections, consumerApplied, consumerApplyDuration, consumerFreshness, dlqMessages } = deps.metrics
  const retry = deps.retry ?? DEFAULT_RETRY
  const tracing = deps.tracing ?? TRACING_OFF
  let redisDownSince: number | null = null

  function spansFor (message: KafkaMessage, event: EntityEvent): ApplySpans {
    if (!tracing.enabled) return { apply: null, cas: null }
    const { span: apply, ctx } = startSpan(tracing, 'apply event', remoteContext(message.headers?.[TRACEPARENT]), {
      kind: SpanKind.CONSUMER,
      attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'process', 'messaging.kafka.offset': message.offset, 'postboard.entity': `${event.type}:${event.id}`, 'postboard.version': event.version }
    })
    const { span: cas } = startSpan(tracing, 'redis cas', ctx, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'redis', 'db.operation.name': 'cas' } })
    return { apply, cas }
  }

  /** Counts an applied event; its freshness lag is a metric and an attribute of its apply span. */
  function counted (event: EntityEvent, landed: boolean, spans?: ApplySpans): 'applied' | 'stale' {
    const result = landed ? 'applied' : 'stale'
    spans?.apply?.setAttribute('postboard.result', result)
    if (!landed) {
      casRejections.inc({ source: 'consumer' })
      return 'stale'
    }
    const age = (Date.now() - Date.parse(event.occurred_at)) / 1000
    if (Number.isFinite(age)) {
      consumerFreshness.observe(Math.max(0, age))
      spans?.apply?.setAttribute('postboard.freshness_seconds', Math.max(0, age))
    }
    return 'applied'
  }

  function endSpans (spans: ApplySpans | undefined, err?: unknown): void {
    if (spans === undefined) return
    endSpan(spans.cas, err)
    endSpan(spans.apply, err)
  }

  async function applyLeading (messages: KafkaMessage[]): Promise<number> {
    // While Redis is known to be down, handle() waits it out (and logs its return) one message at a time.
    if (redisDownSince !== null) return 0
    const events: EntityEvent[] = []
    for (const message of messages) {
      try {
        events.push(parseEvent(message.value))
      } catch {
        break // handle() dead-letters it once the run before it is done
      }
    }
    if (events.length === 0) return 0
    // One span pair per message, all sharing the run's one round trip (spans only when tracing is on).
    const spans = tracing.enabled ? events.map((event, i) => spansFor(messages[i]!, event)) : undefined
    const started = performance.now()
    let results: Array<boolean | Error>
    try {
      results = await applyEvents(redis, events, ttlSeconds)
    } catch (err) {
      for (const s of spans ?? []) endSpans(s, err)
      return 0 // Redis unreachable: handle() waits it out
    }
    const seconds = (performance.now() - started) / 1000
    let done = 0
    for (const [i, result] of results.entries()) {
      if (result instanceof Error) break
      consumerApplyDuration.observe(seconds)
      consumerApplied.inc({ result: counted(events[i]!, result, spans?.[i]) })
      endSpans(spans?.[i])
      done++
    }
    // Messages after the first that failed are handled again on their own, with spans of their own.
    for (const s of spans?.slice(done) ?? []) endSpans(s, 'not applied in this run')
    return done
  }

  async function attempt (message: KafkaMessage): Promise<Step> {
    let event
    try {
      event = parseEvent(message.value)
    } catch (err) {
      if (err instanceof PoisonEvent) return { failed: err.message }
      /* c8 ignore next -- parseEvent throws nothing else; anything else would be a bug, and ends the batch loudly */
      throw err
    }
    const end = consumerApplyDuration.startTimer()
    const spans = spansFor(message, event)
    try {
      const landed = await applyEvent(redis, event, ttlSeconds)
      end()
      if (redisDownSince !== null) {
        log.info({ downMs: Date.now() - redisDownSince }, 'consumer: redis is back; applying again')
        redisDownSince = null
      }
      const done = counted(event, landed, spans)
      endSpans(spans)
      return { done }
    } catch (err) {
      endSpans(spans, err)
      if (isRedisUnavailable(err)) return { redisDown: err as Error }
      return { failed: `redis refused the event: ${(err as Error).message}` }
    }
  }

  async function handle (message: KafkaMessage, control: MessageControl): Promise<Outcome> {
    let failures = 0
    let redisDelay = retry.baseDelayMs
    for (;;) {
      const step = await attempt(message)
      if ('done' in step) {
        consumerApplied.inc({ result: step.done })
        return step.done
      }
      if ('redisDown' in step) {
        if (redisDownSince === null) {
          redisDownSince = Date.now()
          log.warn({ err: step.redisDown }, 'consumer: redis unreachable; holding the partition and retrying')
        }
        await sleep(redisDelay)
        redisDelay = Math.min(redisDelay * 2, retry.maxDelayMs)
      } else {
        failures++
        if (failures >= retry.maxAttempts) {
          await deadLetter(control, message, step.failed, failures)
          dlqMessages.inc()
          consumerApplied.inc({ result: 'dead_lettered' })
          log.error({ reason: step.failed, partition: control.partition, offset: message.offset, attempts: failures },
            'consumer: message dead-lettered')
          return 'dead_lettered'
        }
        log.warn({ reason: step.failed, partition: control.partition, offset: message.offset, attempt: failures },
          'consumer: message failed; retrying')
        await sleep(Math.min(retry.baseDelayMs * 2 ** (failures - 1), retry.maxDelayMs))
      }
      await control.heartbeat()
      if (!control.active()) return 'stopped'
    }
  }

  return { handle, applyLeading }
}
