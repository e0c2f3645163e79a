// The process metrics (prom-client's defaults) record from the moment an app's metrics exist: the first scrape of a
// new process already reports its event loop delay, instead of an empty histogram (max 0, mean NaN).
import t from 'tap'
import { createMetrics, metricsText } from '../../src/shared/metrics.js'

t.test('the first scrape reports the event loop delay since the metrics were created', async (t) => {
  const metrics = createMetrics()
  await new Promise((resolve) => setTimeout(resolve, 300)) // the delay monitor samples every 10 ms
  const text = await metricsText(metrics, new Set(['read']))
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1])
  t.ok(value('nodejs_eventloop_lag_max_seconds') > 0, `max ${value('nodejs_eventloop_lag_max_seconds')}`)
  t.ok(Number.isFinite(value('nodejs_eventloop_lag_mean_seconds')), `mean ${value('nodejs_eventloop_lag_mean_seconds')}`)
})
