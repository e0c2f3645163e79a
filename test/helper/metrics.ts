// The one metrics reader: a series' current value, from a metric object (an app's own: app.metrics.<series>), a
// series named in an app's registry, or a Prometheus text (another process's /metrics).
import type { Registry } from 'prom-client'

type Labels = Record<string, string>

interface Sample { value: number, labels: Partial<Record<string, string | number>>, metricName?: string }
/** A metric object: an app's counters, histograms and gauges (fast-metrics or prom-client), or a test's own. */
interface Readable { get: () => Promise<{ name: string, type: unknown, values: Sample[] }> }

/**
 * Current value of a counter or gauge, or a histogram's _count, summed over the samples whose labels include
 * `labels` (all of them when none are given); 0 when the series never moved.
 * `metric` is a metric object, or the name of a series `from` an app (its registry; unknown names throw) or in a
 * Prometheus text such as a process's own /metrics over HTTP.
 */
export async function metricValue (metric: Readable | string, labels: Labels = {},
  from?: string | { metrics: { registry: Registry } }): Promise<number> {
  const exposition = typeof from === 'string' ? from : undefined
  const matches = (have: Sample['labels']): boolean => Object.entries(labels).every(([k, v]) => String(have[k]) === v)
  if (exposition !== undefined) {
    const name = typeof metric === 'string' ? metric : (await metric.get()).name
    const histogram = new RegExp(`^# TYPE ${name} histogram$`, 'm').test(exposition)
    let sum = 0
    for (const line of exposition.split('\n')) {
      const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line)
      if (m === null || m[1] !== (histogram ? `${name}_count` : name)) continue
      const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k!, v!]))
      if (matches(have)) sum += Number(m[3])
    }
    return sum
  }
  const source = typeof metric === 'string' ? (from as { metrics: { registry: Registry } } | undefined)?.metrics.registry.getSingleMetric(metric) as Readable | undefined : metric
  if (source === undefined) throw new Error(`no series named ${String(metric)} in the app given`)
  const data = await source.get()
  const sample = String(data.type) === 'histogram' ? `${data.name}_count` : data.name
  return data.values
    .filter((v) => (v.metricName ?? data.name) === sample)
    .filter((v) => matches(v.labels))
    .reduce((sum, v) => sum + v.value, 0)
}
