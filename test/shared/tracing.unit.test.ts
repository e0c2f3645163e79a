// W3C traceparent: read as the caller sent it (malformed or all-zero ids start a new trace), written back the same,
// and with tracing off each hop keeps the caller's trace id under a span id of its own.
import t from 'tap'
import { trace } from '@opentelemetry/api'
import { TRACING_OFF, formatTraceparent, hopContext, keptTraceparent, parseTraceparent, remoteContext, traceparentOf, type Tracing } from '../../src/shared/tracing.js'

const GOOD = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

t.test('parse and format', async (t) => {
  const sc = parseTraceparent(GOOD)!
  t.match(sc, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true })
  t.equal(formatTraceparent(sc), GOOD)
  t.same(parseTraceparent(Buffer.from(GOOD)), sc, 'a Kafka header arrives as a Buffer')
  for (const bad of [undefined, 42, '', 'garbage', GOOD.toUpperCase(), `01${GOOD.slice(2)}`, `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`]) {
    t.equal(parseTraceparent(bad), null, `refused: ${String(bad)}`)
  }
})

t.test('contexts: a remote parent, and a hop of our own when tracing is off', async (t) => {
  t.equal(traceparentOf(remoteContext(GOOD)), GOOD)
  t.equal(trace.getSpanContext(remoteContext('nope')), undefined, 'no parent: a new trace begins under it')
  const hop = traceparentOf(hopContext(GOOD))!
  t.match(hop, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
  t.not(hop, GOOD, 'a span id of its own')
  const fresh = traceparentOf(hopContext(undefined))!
  t.match(fresh, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'a new, sampled trace')
  t.not(traceparentOf(hopContext(undefined)), fresh)
})

t.test('ids of made-up traces are all different, across refills of the random pool', async (t) => {
  const seen = new Set<string>()
  // 4 KiB of pool is ~170 contexts: this crosses a dozen refills.
  for (let i = 0; i < 2000; i++) seen.add(traceparentOf(hopContext(undefined))!.slice(3, 52))
  t.equal(seen.size, 2000, 'no trace id and span id pair repeats')
})

t.test('the traceparent kept with stored data: a caller\'s, or any while tracing is on; not one made up for an untraced hop', async (t) => {
  const on = { enabled: true, tracer: trace.getTracer('test') } as unknown as Tracing
  t.match(keptTraceparent(TRACING_OFF, hopContext(GOOD)), /^00-4bf92f3577b34da6a3ce929d0e0e4736-/, 'the caller\'s trace, tracing off')
  t.equal(keptTraceparent(TRACING_OFF, hopContext(undefined)), undefined, 'made up with tracing off: not kept')
  t.match(keptTraceparent(on, hopContext(undefined)), /^00-[0-9a-f]{32}-/, 'tracing on: kept')
  t.equal(keptTraceparent(on, remoteContext(GOOD)), GOOD)
})
