// Traces: one POST yields one trace whose spans cover the request, the MongoDB write, the Kafka publish, the
// consumer's apply and its Redis CAS, and the Kafka message carries that trace in its `traceparent` header; the
// apply span holds the event's freshness lag. With tracing off no span is made, yet the message still carries the
// caller's trace. Spans go to an in-memory exporter handed to buildApp.
import t from 'tap'
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { SpanKind } from '@opentelemetry/api'
import { buildApp } from '../../src/app.js'
import { dropNamespace, kafkaFor, readEvents, testConfig, waitFor, type Tap } from '../helper/index.js'
import type { FastifyInstance } from 'fastify'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER = '00f067aa0ba902b7'

async function traced (t: Tap, tracing: boolean): Promise<{ app: FastifyInstance, exporter: InMemorySpanExporter }> {
  const config = testConfig({ role: 'all' })
  const exporter = new InMemorySpanExporter()
  const app = await buildApp(config, { logger: false, ...(tracing && { traceExporter: exporter }) })
  t.teardown(async () => { await app.close(); await dropNamespace(config) })
  await app.ready()
  return { app, exporter }
}

const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId

t.test('one POST, one trace: request, MongoDB write, publish, consume, cache write; the Kafka event carries it', async (t) => {
  const { app, exporter } = await traced(t, true)
  t.equal(app.tracing.enabled, true)
  const res = await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'traced' }, headers: { traceparent: `00-${TRACE}-${CALLER}-01` } })
  t.equal(res.statusCode, 201)
  const ofTrace = (): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE)
  await waitFor('the apply span', async () => ofTrace().some((s) => s.name === 'redis cas'), 30_000)

  const spans = ofTrace()
  const one = (name: string | RegExp): ReadableSpan => {
    const found = spans.filter((s) => typeof name === 'string' ? s.name === name : name.test(s.name))
    t.equal(found.length, 1, `one ${String(name)} span`)
    return found[0]!
  }
  const server = one('POST /post_server/users')
  const write = one('mongodb create_user')
  const publish = one(/ publish$/)
  const apply = one('apply event')
  const cas = one('redis cas')
  t.equal(server.kind, SpanKind.SERVER)
  t.equal(parentOf(server), CALLER, 'the request span continues the caller\'s trace')
  t.equal(server.attributes['http.response.status_code'], 201)
  t.equal(parentOf(write), server.spanContext().spanId, 'the MongoDB write is under the request')
  t.equal(write.kind, SpanKind.CLIENT)
  t.equal(parentOf(publish), server.spanContext().spanId, 'the publish is under the request')
  t.equal(publish.kind, SpanKind.PRODUCER)
  t.equal(parentOf(apply), publish.spanContext().spanId, 'the consumer\'s apply continues the publish, across Kafka')
  t.equal(apply.kind, SpanKind.CONSUMER)
  t.equal(parentOf(cas), apply.spanContext().spanId, 'the cache write is under the apply')
  t.equal(apply.attributes['postboard.result'], 'applied')
  t.type(apply.attributes['postboard.freshness_seconds'], 'number', 'the freshness lag is an attribute of the apply')
  t.ok((apply.attributes['postboard.freshness_seconds'] as number) >= 0)

  const got = await readEvents(kafkaFor(app.config), app.config.eventsTopic, (g) => g.length >= 1)
  t.match(got[0]!.headers.traceparent, new RegExp(`^00-${TRACE}-${publish.spanContext().spanId}-01$`), 'the Kafka event carries the trace, as its publish span')
})

t.test('without a traceparent the POST starts a trace of its own, and every span is in it', async (t) => {
  const { app, exporter } = await traced(t, true)
  const res = await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'fresh-trace' } })
  t.equal(res.statusCode, 201)
  await waitFor('the cache write span', async () => exporter.getFinishedSpans().some((s) => s.name === 'redis cas'), 30_000)
  const spans = exporter.getFinishedSpans().filter((s) => !s.name.startsWith('GET '))
  const traces = new Set(spans.map((s) => s.spanContext().traceId))
  t.equal(traces.size, 1, 'one trace')
  t.equal(spans.find((s) => s.kind === SpanKind.SERVER)?.parentSpanContext, undefined, 'the request span is its root')
  t.same(new Set(spans.map((s) => s.name)), new Set(['POST /post_server/users', 'mongodb create_user', `${app.config.eventsTopic} publish`, 'apply event', 'redis cas']))
})

t.test('tracing off: no span, no SDK, but the Kafka event still carries the caller\'s trace', async (t) => {
  const { app, exporter } = await traced(t, false)
  t.equal(app.tracing.enabled, false)
  const res = await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'untraced' }, headers: { traceparent: `00-${TRACE}-${CALLER}-01` } })
  t.equal(res.statusCode, 201)
  const got = await readEvents(kafkaFor(app.config), app.config.eventsTopic, (g) => g.length >= 1)
  const header = got[0]!.headers.traceparent ?? ''
  t.match(header, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`), 'the caller\'s trace id')
  t.not(header.split('-')[2], CALLER, 'under a span id of this hop')
  t.equal(exporter.getFinishedSpans().length, 0)
  // A POST without one still sends a (new) trace on.
  await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'untraced-2' } })
  const both = await readEvents(kafkaFor(app.config), app.config.eventsTopic, (g) => g.length >= 2)
  t.ok(both.every((m) => /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(m.headers.traceparent ?? '')), 'every event has a traceparent')
})
