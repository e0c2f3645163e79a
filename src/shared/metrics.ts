// Every Prometheus series postboard exports, defined once. Modules import the metric they move; /metrics
// (plugins/metrics.ts) serves the registry. Labels are small fixed sets: never ids, URLs or tokens. Counters and
// histograms are fast-metrics.ts's (cheap on the hot path), gauges and process metrics prom-client's own.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { FastCounter as Counter, FastHistogram as Histogram } from './fast-metrics.js'
import type { Role } from './roles.js'

export const registry = new Registry()
collectDefaultMetrics({ register: registry, prefix: 'pb_process_' })

const LATENCY = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
const FRESHNESS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

// HTTP, by route template (bounded cardinality).
export const httpRequests = new Counter({ name: 'pb_http_requests_total', help: 'HTTP requests by route template and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] })
export const httpDuration = new Histogram({ name: 'pb_http_request_duration_seconds', help: 'HTTP request duration by route template', labelNames: ['method', 'route'] as const, buckets: LATENCY, registers: [registry] })

// Read path cache.
export const cacheLookups = new Counter({ name: 'pb_cache_lookups_total', help: 'Cache lookups: hit, miss, negative_hit (known-absent id) or error (Redis unavailable)', labelNames: ['entity', 'result'] as const, registers: [registry] })
export const cacheFills = new Counter({ name: 'pb_cache_fills_total', help: 'Read-through fills: stored, or rejected by the version CAS because a newer version was cached', labelNames: ['entity', 'result'] as const, registers: [registry] })
export const casRejections = new Counter({ name: 'pb_cache_cas_rejections_total', help: 'Cache writes the version CAS refused, by writer', labelNames: ['source'] as const, registers: [registry] })
export const singleFlightJoins = new Counter({ name: 'pb_singleflight_joins_total', help: 'Cache misses that joined a MongoDB read already in flight for the same key', labelNames: ['entity'] as const, registers: [registry] })
export const listRebuilds = new Counter({ name: 'pb_post_index_rebuilds_total', help: 'Rebuilds of the Redis post list index from MongoDB', registers: [registry] })

// Dependency latency.
export const mongoDuration = new Histogram({ name: 'pb_mongo_duration_seconds', help: 'MongoDB call latency by operation', labelNames: ['op'] as const, buckets: LATENCY, registers: [registry] })
export const redisDuration = new Histogram({ name: 'pb_redis_duration_seconds', help: 'Redis call latency by operation', labelNames: ['op'] as const, buckets: LATENCY, registers: [registry] })

// Write path and outbox.
export const eventsPublished = new Counter({ name: 'pb_events_published_total', help: 'Entity events published to Kafka, by path (inline after the write, or relay)', labelNames: ['path'] as const, registers: [registry] })
export const producerErrors = new Counter({ name: 'pb_producer_errors_total', help: 'Failed publishes (the document stays pending for the relay)', registers: [registry] })
export const outboxPending = new Gauge({ name: 'pb_outbox_pending', help: 'Documents whose latest version is not yet published, as last seen by the relay', registers: [registry] })
export const idempotentReplays = new Counter({ name: 'pb_idempotent_replays_total', help: 'POSTs answered from a stored Idempotency-Key result', registers: [registry] })

// Consumer.
export const consumerApplied = new Counter({ name: 'pb_consumer_events_total', help: 'Events handled by the consumer: applied, stale (CAS refused an older version) or dead_lettered', labelNames: ['result'] as const, registers: [registry] })
export const consumerApplyDuration = new Histogram({ name: 'pb_consumer_apply_duration_seconds', help: 'Time to apply one event to Redis', buckets: LATENCY, registers: [registry] })
export const consumerFreshness = new Histogram({ name: 'pb_consumer_freshness_seconds', help: 'Event occurred_at to applied in Redis', buckets: FRESHNESS, registers: [registry] })
export const consumerLag = new Gauge({ name: 'pb_consumer_lag_messages', help: 'Messages behind the partition high watermark, per partition', labelNames: ['partition'] as const, registers: [registry] })
export const dlqMessages = new Counter({ name: 'pb_dlq_messages_total', help: 'Messages written to the dead-letter topic', registers: [registry] })

// Identity.
export const identityVerdicts = new Counter({ name: 'pb_identity_verdicts_total', help: 'Identity checks by source (cache, invoke) and outcome (valid, invalid, unavailable)', labelNames: ['source', 'result'] as const, registers: [registry] })
export const identityInvokeDuration = new Histogram({ name: 'pb_identity_invoke_duration_seconds', help: 'Validator invoke latency', buckets: LATENCY, registers: [registry] })

// Which roles move each role-specific series. A process serves these only when it runs one of the roles; anything not
// listed (process, HTTP, dependency latency, CAS rejections, or a series added later) is served by every role.
export const SERIES_ROLES: Readonly<Record<string, readonly Role[]>> = {
  pb_cache_lookups_total: ['read'],
  pb_cache_fills_total: ['read'],
  pb_singleflight_joins_total: ['read'],
  pb_post_index_rebuilds_total: ['read', 'consumer'],
  pb_identity_verdicts_total: ['read', 'write'], // writes check identity too under --auth-writes
  pb_identity_invoke_duration_seconds: ['read', 'write'],
  pb_events_published_total: ['write'],
  pb_producer_errors_total: ['write'],
  pb_outbox_pending: ['write'],
  pb_idempotent_replays_total: ['write'],
  pb_consumer_events_total: ['consumer'],
  pb_consumer_apply_duration_seconds: ['consumer'],
  pb_consumer_freshness_seconds: ['consumer'],
  pb_consumer_lag_messages: ['consumer'],
  pb_dlq_messages_total: ['consumer']
}

/** The Prometheus text for the series the given roles own. */
export async function metricsFor (roles: ReadonlySet<Role>): Promise<string> {
  const view = new Registry()
  for (const { name } of registry.getMetricsAsArray()) {
    const owners = SERIES_ROLES[name]
    const metric = registry.getSingleMetric(name)
    if (metric !== undefined && (owners === undefined || owners.some((r) => roles.has(r)))) view.registerMetric(metric)
  }
  return await view.metrics()
}
