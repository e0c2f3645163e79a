// The hot-path counters and histograms expose exactly what prom-client's own would for the same updates: same text
// in the Prometheus exposition, same get() values (which tests and the role filter read).
import t from 'tap'
import { Counter, Histogram, Registry } from 'prom-client'
import { FastCounter, FastHistogram } from '../../src/shared/fast-metrics.js'

const BUCKETS = [0.001, 0.01, 0.1, 1]

t.test('a counter: the same exposition as prom-client for the same increments', async (t) => {
  const [mine, theirs] = [new Registry(), new Registry()]
  const fast = new FastCounter({ name: 'x_total', help: 'things', labelNames: ['kind', 'result'] as const, registers: [mine] })
  const slow = new Counter({ name: 'x_total', help: 'things', labelNames: ['kind', 'result'] as const, registers: [theirs] })
  for (const c of [fast, slow]) {
    c.inc({ kind: 'post', result: 'hit' })
    c.inc({ kind: 'post', result: 'hit' }, 3)
    c.inc({ result: 'miss', kind: 'user' }) // label order does not matter
  }
  t.equal(await mine.metrics(), await theirs.metrics())
  const plain = new FastCounter({ name: 'y_total', help: 'plain' })
  plain.inc()
  plain.inc(2)
  t.same((await plain.get()).values, [{ labels: {}, value: 3 }])
  t.throws(() => { plain.inc(-1) }, /cannot add -1/, 'a counter never goes down')
  t.throws(() => { fast.inc({ kind: 'post', bogus: 'x' } as never) }, /has no label bogus/, 'unknown labels are refused')
  const bound = fast.bind({ kind: 'post', result: 'hit' })
  bound.inc()
  t.same((await fast.get()).values[0], { labels: { kind: 'post', result: 'hit' }, value: 5 }, 'a bound handle counts into its series')
  fast.reset()
  bound.inc()
  t.same((await fast.get()).values.map((v) => v.value), [1, 0], 'reset zeroes every series; bound handles keep counting')
})

t.test('a histogram: the same exposition as prom-client, buckets, _sum and _count', async (t) => {
  const [mine, theirs] = [new Registry(), new Registry()]
  const fast = new FastHistogram({ name: 'lat_seconds', help: 'latency', labelNames: ['op'] as const, buckets: BUCKETS, registers: [mine] })
  const slow = new Histogram({ name: 'lat_seconds', help: 'latency', labelNames: ['op'] as const, buckets: BUCKETS, registers: [theirs] })
  for (const h of [fast, slow]) {
    for (const v of [0.0005, 0.001, 0.005, 0.05, 0.5, 5]) h.observe({ op: 'find' }, v)
    h.observe({ op: 'fill' }, 0.02)
  }
  t.equal(await mine.metrics(), await theirs.metrics())
  // prom-client adds an empty exemplar slot to each bucket; there are no exemplars here.
  const theirValues = (await slow.get()).values.map((v) => {
    const { exemplar: _none, ...rest } = v as typeof v & { exemplar?: unknown }
    return rest
  })
  t.same((await fast.get()).values, theirValues, 'get() yields the same samples')

  const unlabelled = new FastHistogram({ name: 'u_seconds', help: 'u', buckets: BUCKETS })
  unlabelled.observe(0.002)
  const end = unlabelled.startTimer()
  const took = end()
  t.ok(took >= 0 && took < 1, 'startTimer measures seconds')
  const count = (await unlabelled.get()).values.find((v) => v.metricName === 'u_seconds_count')
  t.equal(count?.value, 2)
  t.throws(() => { unlabelled.observe(Number.NaN) }, /not a finite value/)
  const find = fast.bind({ op: 'find' })
  find.observe(0.0001)
  const findCount = (await fast.get()).values.find((v) => v.metricName === 'lat_seconds_count' && v.labels.op === 'find')
  t.equal(findCount?.value, 7, 'a bound handle observes into its series')
  fast.reset()
  t.ok((await fast.get()).values.every((v) => v.value === 0), 'reset zeroes buckets, sum and count')
})
