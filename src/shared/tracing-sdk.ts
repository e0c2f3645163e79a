// The OpenTelemetry SDK, loaded (import()) only when tracing is on, so a process without OTEL_* settings never loads
// it: one tracer provider per app (two apps in one process trace apart), spans batched to the OTLP/HTTP exporter
// (its endpoint from OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), or handed one by one to the
// exporter a caller gives (tests: an in-memory one).
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import type { Tracer } from '@opentelemetry/api'

export interface TracerHandle { tracer: Tracer, shutdown: () => Promise<void> }

export function createTracer (service: { name: string, version: string }, exporter?: SpanExporter): TracerHandle {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service.name, 'service.version': service.version }),
    spanProcessors: [exporter !== undefined ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter())]
  })
  return { tracer: provider.getTracer('postboard', service.version), shutdown: async () => { await provider.shutdown() } }
}
