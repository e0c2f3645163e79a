// W3C trace context and spans, through the OpenTelemetry API only. The context of a write always travels (an incoming
// `traceparent`, or a new trace) from the request through MongoDB to the Kafka message's headers and on to the
// consumer; spans are made only when tracing is on (plugins/tracing.ts loads the SDK then), so with it off a write
// pays for one header and a read for nothing.
import { randomFillSync } from 'node:crypto'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, createContextKey, trace, type Attributes, type Context, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api'

export { SpanKind, type Context, type Span }

/** Tracing off (no SDK: contexts travel, no span is made), or on with the app's tracer. */
export type Tracing = { readonly enabled: false } | { readonly enabled: true, readonly tracer: Tracer }

export const TRACING_OFF: Tracing = { enabled: false }

export const TRACEPARENT = 'traceparent'
const W3C = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

/** The span context a `traceparent` names (version 00), or null when it is missing or malformed (then a new trace). */
export function parseTraceparent (value: unknown): SpanContext | null {
  const text = Buffer.isBuffer(value) ? value.toString('latin1') : value
  if (typeof text !== 'string') return null
  const m = W3C.exec(text.trim())
  if (m === null || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return null
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true }
}

export function formatTraceparent (sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`
}

/** The `traceparent` of a context's span, if it has one. */
export function traceparentOf (ctx: Context | undefined): string | undefined {
  const sc = ctx === undefined ? undefined : trace.getSpanContext(ctx)
  return sc === undefined ? undefined : formatTraceparent(sc)
}

/** A remote parent as a context (ROOT_CONTEXT when there is none: the span started under it begins a trace). */
export function remoteContext (value: unknown): Context {
  const parent = parseTraceparent(value)
  return parent === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent)
}

/** Marks a context whose trace this process made up (no caller sent one): see keptTraceparent. */
const INVENTED = createContextKey('postboard: a trace made up for this hop')

/** Random bytes for ids, drawn from one refill of a pool instead of a call per id (writes make two ids each). */
const POOL = Buffer.allocUnsafe(4096)
let poolAt = POOL.length
function randomHex (bytes: number): string {
  if (poolAt + bytes > POOL.length) {
    randomFillSync(POOL)
    poolAt = 0
  }
  poolAt += bytes
  return POOL.toString('hex', poolAt - bytes, poolAt)
}

/**
 * With tracing off: a context standing for this process's hop, so what it sends on carries the caller's trace (or a
 * new one): the caller's trace id, a span id of our own. Sampled, so a collector behind us keeps the trace.
 */
export function hopContext (value: unknown): Context {
  const parent = parseTraceparent(value)
  const sc: SpanContext = {
    traceId: parent?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    traceFlags: parent?.traceFlags ?? TraceFlags.SAMPLED
  }
  const ctx = trace.setSpanContext(ROOT_CONTEXT, sc)
  return parent === null ? ctx.setValue(INVENTED, true) : ctx
}

/**
 * The `traceparent` worth storing with the data a write leaves (a created document, for the relay's link): the
 * caller's trace, or ours while tracing is on; not one made up for a hop that nobody traces.
 */
export function keptTraceparent (tracing: Tracing, ctx: Context): string | undefined {
  if (!tracing.enabled && ctx.getValue(INVENTED) === true) return undefined
  return traceparentOf(ctx)
}

export interface SpanOptions { kind: SpanKind, attributes?: Attributes, links?: Link[] }

/** Starts a span under ctx (null when tracing is off), and the context with it as the parent of what follows. */
export function startSpan (tracing: Tracing, name: string, ctx: Context, opts: SpanOptions): { span: Span | null, ctx: Context } {
  if (!tracing.enabled) return { span: null, ctx }
  const span = tracing.tracer.startSpan(name, opts, ctx)
  return { span, ctx: trace.setSpan(ctx, span) }
}

/** Ends a span, marking it failed when err is given. */
export function endSpan (span: Span | null, err?: unknown): void {
  if (span === null) return
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : String(err))
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}

/** Runs fn inside a span (just fn, under ctx, when tracing is off). */
export async function inSpan<T> (tracing: Tracing, name: string, ctx: Context, opts: SpanOptions, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const { span, ctx: inner } = startSpan(tracing, name, ctx, opts)
  try {
    const result = await fn(inner)
    endSpan(span)
    return result
  } catch (err) {
    endSpan(span, err)
    throw err
  }
}
