// Tracing, decorated as `tracing`: on when the OTEL_* settings ask for an exporter (config.tracing) or a caller hands
// buildApp one (tests), off otherwise. On, the SDK is loaded (import(), never at start-up otherwise), each request gets
// a server span under its `traceparent`, and the spans of the write, the publish and the consumer's apply hang below.
// Off, no hook is added: a write still carries its trace context to Kafka (traceOf), a read pays nothing.
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { SpanExporter } from '@opentelemetry/sdk-trace-base'
import { SpanStatusCode } from '@opentelemetry/api'
import { SpanKind, TRACEPARENT, TRACING_OFF, endSpan, hopContext, remoteContext, startSpan, type Context, type Span, type Tracing } from '../src/shared/tracing.js'
import { packageVersion } from '../src/shared/build-info.js'

declare module 'fastify' {
  interface FastifyInstance { tracing: Tracing }
  interface FastifyRequest { traceContext: Context | null, traceSpan: Span | null }
}

export interface TracingOptions {
  /** Export spans here, one at a time, whatever the settings say (tests pass an in-memory exporter). */
  exporter?: SpanExporter
}

/** The context a request's work continues: its server span's, or (tracing off) its caller's trace as this hop. */
export function traceOf (req: FastifyRequest): Context {
  req.traceContext ??= hopContext(req.headers[TRACEPARENT])
  return req.traceContext
}

export default fp<TracingOptions>(async (app, opts) => {
  const { tracing: settings } = app.config
  if (opts.exporter === undefined && settings.exporter === 'none') {
    app.decorate<Tracing>('tracing', TRACING_OFF)
    app.decorateRequest('traceContext', null)
    app.decorateRequest('traceSpan', null)
    return
  }
  const { createTracer } = await import('../src/shared/tracing-sdk.js')
  const handle = createTracer({ name: settings.serviceName, version: packageVersion() }, opts.exporter)
  const tracing: Tracing = { enabled: true, tracer: handle.tracer }
  app.decorate<Tracing>('tracing', tracing)
  app.decorateRequest('traceContext', null)
  app.decorateRequest('traceSpan', null)
  // Last of the onClose hooks to run is the first registered: the spans the other plugins end on close get out too.
  app.addHook('onClose', async () => { await handle.shutdown() })

  app.addHook('onRequest', async (req) => {
    const route = req.routeOptions.url ?? 'unmatched'
    const { span, ctx } = startSpan(tracing, `${req.method} ${route}`, remoteContext(req.headers[TRACEPARENT]), {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method, 'http.route': route, 'url.path': req.url.split('?')[0] ?? '' }
    })
    req.traceSpan = span
    req.traceContext = ctx
  })
  app.addHook('onResponse', async (req, reply) => {
    const span = req.traceSpan
    if (span === null) return
    span.setAttribute('http.response.status_code', reply.statusCode)
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
    endSpan(span)
  })
}, { name: 'tracing', dependencies: ['config'] })
