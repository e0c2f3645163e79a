// Every Prometheus series postboard exports, defined once and created per app (createMetrics): two apps built in one
// process count into their own registries. Labels are small fixed sets: never ids, URLs or tokens. Counters and
// histograms are fast-metrics.ts's (cheap on the hot path), gauges prom-client's own. Process metrics (CPU, memory,
// event loop) describe the process, not an app, so they live in one registry per process (processRegistry).
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { FastCounter as Counter, FastHistogram as Histogram } from './fast-metrics.js'
import { seriesOwners, type Role } from './roles.js'

// Up to 30 s: an outage answer takes seconds (a write waits 1 s for Kafka, a busy document up to 8 s, a MongoDB
// server selection or the identity validator's timeout longer), and those are what a latency alert must see.
const LATENCY = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const FRESHNESS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

let processMetrics: Registry | undefined

/**
 * The process-wide registry of prom-client's default metrics, created by the first app (never at import). Its event
 * loop delay monitor and GC observer record only from their creation on: created at the first scrape, that scrape
 * reported no event loop delay at all (max 0, mean NaN) and no collection that came before it.
 */
function processRegistry (): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry()
    // Under their standard names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...), which every
    // Node.js dashboard and alert expects.
    collectDefaultMetrics({ register: processMetrics })
  }
  return processMetrics
}

/** What `pb_build_info` says about this process. */
export interface BuildInfo { version: string, commit: string, roles: readonly string[] }

/** One app's series, each registered in the app's own registry. */
export function createMetrics (build: BuildInfo = { version: '0.0.0', commit: 'unknown', roles: [] }) {
  processRegistry() // the process metrics record from the app's start, not from its first scrape
  const registry = new Registry()
  const registers = [registry]
  const buildInfo = new Gauge({ name: 'pb_build_info', help: 'Always 1; the labels say which build this process runs (version, commit, Node.js version) and its roles', labelNames: ['version', 'commit', 'node_version', 'roles'] as const, registers })
  buildInfo.set({ version: build.version, commit: build.commit, node_version: process.version, roles: build.roles.join(',') }, 1)
  return {
    registry,
    buildInfo,
    // HTTP, by route template (bounded cardinality) and the role serving it (read, write, or ops: health, metrics, docs).
    httpRequests: new Counter({ name: 'pb_http_requests_total', help: 'HTTP requests by role, route template and status', labelNames: ['role', 'method', 'route', 'status'] as const, registers }),
    httpDuration: new Histogram({ name: 'pb_http_request_duration_seconds', help: 'HTTP request duration by role and route template', labelNames: ['role', 'method', 'route'] as const, buckets: LATENCY, registers }),

    // Read path cache.
    cacheLookups: new Counter({ name: 'pb_cache_lookups_total', help: 'Cache lookups: near_hit, hit, miss, negative_hit (known-absent id), stale (older than the Min-Version asked; read past to MongoDB) or error (Redis unavailable)', labelNames: ['entity', 'result'] as const, registers }),
    cacheFills: new Counter({ name: 'pb_cache_fills_total', help: 'Read-through fills: stored, or rejected by the version CAS because a newer version was cached', labelNames: ['entity', 'result'] as const, registers }),
    casRejections: new Counter({ name: 'pb_cache_cas_rejections_total', help: 'Cache writes the version CAS refused, by writer', labelNames: ['source'] as const, registers }),
    singleFlightJoins: new Counter({ name: 'pb_singleflight_joins_total', help: 'Cache misses that joined a MongoDB read already in flight for the same key', labelNames: ['entity'] as const, registers }),
    listRebuilds: new Counter({ name: 'pb_post_index_rebuilds_total', help: 'Rebuilds of the Redis post list index from MongoDB', registers }),

    // Dependency latency.
    mongoDuration: new Histogram({ name: 'pb_mongo_duration_seconds', help: 'MongoDB call latency by operation', labelNames: ['op'] as const, buckets: LATENCY, registers }),
    redisDuration: new Histogram({ name: 'pb_redis_duration_seconds', help: 'Redis call latency by operation', labelNames: ['op'] as const, buckets: LATENCY, registers }),

    // Write path and outbox.
    eventsPublished: new Counter({ name: 'pb_events_published_total', help: 'Entity events published to Kafka, by path (inline after the write, or relay)', labelNames: ['path'] as const, registers }),
    producerErrors: new Counter({ name: 'pb_producer_errors_total', help: 'Failed publishes (the document stays pending for the relay)', registers }),
    outboxPending: new Gauge({ name: 'pb_outbox_pending', help: 'Documents whose latest version is not yet published, as last seen by the relay', registers }),
    idempotentReplays: new Counter({ name: 'pb_idempotent_replays_total', help: 'POSTs answered from a stored Idempotency-Key result', registers }),

    // Consumer.
    consumerApplied: new Counter({ name: 'pb_consumer_events_total', help: 'Events handled by the consumer: applied, stale (CAS refused an older version) or dead_lettered', labelNames: ['result'] as const, registers }),
    consumerApplyDuration: new Histogram({ name: 'pb_consumer_apply_duration_seconds', help: 'Time to apply one event to Redis', buckets: LATENCY, registers }),
    consumerFreshness: new Histogram({ name: 'pb_consumer_freshness_seconds', help: 'Event occurred_at to applied in Redis', buckets: FRESHNESS, registers }),
    consumerLag: new Gauge({ name: 'pb_consumer_lag_messages', help: 'Messages behind the partition high watermark, per partition', labelNames: ['partition'] as const, registers }),
    dlqMessages: new Counter({ name: 'pb_dlq_messages_total', help: 'Messages written to the dead-letter topic', registers }),

    // Identity.
    identityVerdicts: new Counter({ name: 'pb_identity_verdicts_total', help: 'Identity checks by source (cache, shared, invoke; shape: refused as no token can be) and outcome (valid, invalid, unavailable)', labelNames: ['source', 'result'] as const, registers }),
    identityInvokeDuration: new Histogram({ name: 'pb_identity_invoke_duration_seconds', help: 'Validator invoke latency', buckets: LATENCY, registers })
  }
}

export type Metrics = ReturnType<typeof createMetrics>

/**
 * The Prometheus text for what the given roles own: the process metrics, and each of the app's series whose owners
 * (the role manifest's `series`) include one of the roles; a series no role claims is served by every role.
 */
export async function metricsText (metrics: Metrics, roles: ReadonlySet<Role>): Promise<string> {
  const view = new Registry()
  for (const registry of [processRegistry(), metrics.registry]) {
    for (const { name } of registry.getMetricsAsArray()) {
      const owners = seriesOwners(name)
      const metric = registry.getSingleMetric(name)
      if (metric !== undefined && (owners.length === 0 || owners.some((r) => roles.has(r)))) view.registerMetric(metric)
    }
  }
  return await view.metrics()
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE
