// The publish span: a child of the write's trace, its context in the message's `traceparent` header; and an event
// the relay carries after Kafka refused it links back to the write's trace, which the created document carries,
// whichever replica's relay carries it.
import t from 'tap'
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { SpanKind } from '@opentelemetry/api'
import pino from 'pino'
import { Publisher } from '../../src/outbox/publisher.js'
import { ensureTopics } from '../../src/bus/kafka.js'
import { createTracer } from '../../src/shared/tracing-sdk.js'
import { remoteContext } from '../../src/shared/tracing.js'
import { buildApp } from '../../src/app.js'
import { build, dropNamespace, kafkaFor, readEvents, testConfig, waitFor, type Tap } from '../helper/index.js'
import type { EntityEvent } from '../../src/shared/event.js'

const WRITE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

function event (id: number, version: number): EntityEvent {
  return { type: 'user', id, version, data: { user_id: id, username: `u${id}`, created_at: new Date().toISOString() }, occurred_at: new Date().toISOString() }
}

async function setUp (t: Tap, traced = true): Promise<{ publisher: Publisher, exporter: InMemorySpanExporter, topic: string, kafka: ReturnType<typeof kafkaFor>, failNextPrepare: () => void }> {
  const app = await build(t, { role: 'write' })
  const exporter = new InMemorySpanExporter()
  const handle = createTracer({ name: 'test', version: '0' }, exporter)
  t.teardown(async () => { await handle.shutdown() })
  let fail = false
  const publisher = new Publisher({
    kafka: app.kafka,
    metrics: app.metrics,
    topic: app.config.eventsTopic,
    log: pino({ level: 'silent' }),
    // A prepare that fails stands in for Kafka refusing a send: the event is left to the relay.
    prepare: async () => {
      if (fail) { fail = false; throw new Error('kafka is down (test)') }
      await ensureTopics(app.kafka, [app.config.eventsTopic], 1, app.log)
    },
    onPublished: async () => {},
    onReleased: async () => {},
    tracing: traced ? { enabled: true, tracer: handle.tracer } : { enabled: false }
  })
  t.teardown(async () => { await publisher.close() })
  return { publisher, exporter, topic: app.config.eventsTopic, kafka: kafkaFor(app.config), failNextPrepare: () => { fail = true } }
}

t.test('an inline publish: a producer span under the write, its context in the header', async (t) => {
  const { publisher, exporter, topic, kafka } = await setUp(t)
  t.equal(await publisher.publish(event(1, 1), 'inline', undefined, remoteContext(WRITE)), true)
  const [span] = exporter.getFinishedSpans()
  t.equal(span?.kind, SpanKind.PRODUCER)
  t.equal(span?.parentSpanContext?.spanId, '00f067aa0ba902b7', 'under the write')
  t.equal(span?.attributes['postboard.publish.path'], 'inline')
  const [got] = await readEvents(kafka, topic, (g) => g.length >= 1)
  t.equal(got?.headers.traceparent, `00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`)
})

t.test('an event left to the relay: the relay\'s publish links to the write\'s trace', async (t) => {
  const { publisher, exporter, topic, kafka, failNextPrepare } = await setUp(t)
  failNextPrepare()
  t.equal(await publisher.publish(event(2, 1), 'inline', undefined, remoteContext(WRITE)), false, 'Kafka refused it: left to the relay')
  t.equal(exporter.getFinishedSpans()[0]?.status.code, 2, 'the failed publish span is an error')
  exporter.reset()
  // The relay publishes it, with the write's trace context as the batch's journal entry recorded it (src/outbox/relay.ts).
  t.equal(await publisher.publish(event(2, 1), 'relay', undefined, remoteContext(WRITE)), true)
  const [span] = exporter.getFinishedSpans()
  t.equal(span?.attributes['postboard.publish.path'], 'relay')
  t.equal(span?.parentSpanContext, undefined, 'a trace of its own')
  t.same(span?.links.map((l) => [l.context.traceId, l.context.spanId]), [['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7']], 'linked to the write')
  const [got] = await readEvents(kafka, topic, (g) => g.length >= 1)
  t.equal(got?.headers.traceparent, `00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`, 'the message carries the relay\'s publish')
})

t.test('tracing off: an event left to the relay still goes out in the write\'s trace', async (t) => {
  const { publisher, topic, kafka, failNextPrepare } = await setUp(t, false)
  failNextPrepare()
  t.equal(await publisher.publish(event(3, 1), 'inline', undefined, remoteContext(WRITE)), false, 'left to the relay')
  t.equal(await publisher.publish(event(3, 1), 'relay', undefined, remoteContext(WRITE)), true)
  const [got] = await readEvents(kafka, topic, (g) => g.length >= 1)
  t.equal(got?.headers.traceparent, WRITE, 'the write\'s trace context')
})

t.test('another replica\'s relay: its publish links to the write\'s trace, which the created document kept', async (t) => {
  const config = testConfig({ role: 'write' }, { RELAY_INTERVAL_MS: '200' })
  t.teardown(async () => { await dropNamespace(config) })
  // The writer cannot reach Kafka (a closed port): its write is acknowledged and its event left in the journal, as
  // when a replica dies before publishing. Tracing is off there; the write's context still goes into the entry.
  const writer = await build(t, { ...config, kafkaBrokers: ['127.0.0.1:1'] })
  const exporter = new InMemorySpanExporter()
  const relayer = await buildApp(config, { logger: false, traceExporter: exporter })
  t.teardown(async () => { await relayer.close() })
  await relayer.ready()

  const res = await writer.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'relayed' }, headers: { traceparent: WRITE } })
  t.equal(res.statusCode, 201)
  const id = res.json<{ user_id: number }>().user_id
  const relayed = (): ReturnType<InMemorySpanExporter['getFinishedSpans']> => exporter.getFinishedSpans()
    .filter((s) => s.attributes['postboard.publish.path'] === 'relay' && s.attributes['messaging.kafka.message.key'] === `user:${id}`)
  await waitFor('the other replica\'s relay to publish it', async () => relayed().length > 0, 20_000)
  const [span] = relayed()
  t.equal(span?.parentSpanContext, undefined, 'a trace of its own')
  t.same(span?.links.map((l) => l.context.traceId), ['4bf92f3577b34da6a3ce929d0e0e4736'], 'linked to the write\'s trace')
  const [got] = await readEvents(kafkaFor(config), config.eventsTopic, (g) => g.some((r) => r.key === `user:${id}`))
  t.equal(got?.headers.traceparent, `00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`, 'the message carries the relay\'s publish')
})
