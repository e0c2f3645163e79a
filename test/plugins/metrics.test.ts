// /metrics: a request through every route of every role moves the HTTP series under its route template (404s under
// "unmatched", never a raw URL); each role exposes the series it owns; and real traffic moves the domain series: cache,
// single flight, CAS, MongoDB and Redis latency, outbox and relay, producer errors, consumer, DLQ and identity. (A route's
// own onResponse hooks alongside the plugin's: metrics.unit.test.ts.)
import t from 'tap'
import type { FastifyInstance, HTTPMethods } from 'fastify'
import kafkajs from 'kafkajs'
import { build, dropNamespace, isolatedEnv, metricValue, waitFor } from '../helper/index.js'
import { loadConfig, type Config } from '../../src/shared/config.js'
import { entityKey } from '../../src/cache/keys.js'
import { mintToken } from '../../src/identity/token.js'

type Labels = Record<string, string>
/** The assertions the helpers below use, from whichever (sub)test calls them. */
type Assert = Pick<typeof t, 'equal' | 'ok' | 'notOk' | 'match' | 'notMatch'>

/** Samples of a series with any value at all (for gauges, whose value can stay 0). */
async function samples (app: FastifyInstance, name: string): Promise<number> {
  return (await app.metrics.registry.getSingleMetric(name)!.get()).values.length
}

async function bearer (app: FastifyInstance, user = '1'): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await mintToken(app.config.token, user, 300)}` }
}

interface Call { method: HTTPMethods, url: string, route: string, status: number, body?: object, auth?: boolean }

/** Sends each call and checks that exactly its route template and status moved, once. */
async function throughEveryRoute (t: Assert, app: FastifyInstance, calls: Call[]): Promise<void> {
  const headers = await bearer(app)
  for (const c of calls) {
    // The role label: the role whose prefix the route is under; ops for health, metrics, docs and the unmatched.
    const role = c.route.startsWith('/get_server/') ? 'read' : c.route.startsWith('/post_server/') ? 'write' : 'ops'
    const labels = { role, method: c.method, route: c.route }
    const before = await metricValue('pb_http_requests_total', { ...labels, status: String(c.status) }, app)
    const timed = await metricValue('pb_http_request_duration_seconds', labels, app)
    const res = await app.inject({ method: c.method, url: c.url, ...(c.body !== undefined && { payload: c.body }), ...(c.auth === true && { headers }) })
    t.equal(res.statusCode, c.status, `${c.method} ${c.url} answers ${c.status}`)
    t.equal(await metricValue('pb_http_requests_total', { ...labels, status: String(c.status) }, app) - before, 1, `${c.method} ${c.route} ${c.status} counted once`)
    t.equal(await metricValue('pb_http_request_duration_seconds', labels, app) - timed, 1, `${c.method} ${c.route} timed once`)
  }
}

const COMMON: Call[] = [
  { method: 'GET', url: '/health/live', route: '/health/live', status: 200 },
  { method: 'GET', url: '/health/ready', route: '/health/ready', status: 200 },
  { method: 'GET', url: '/metrics', route: '/metrics', status: 200 },
  { method: 'GET', url: '/docs/json', route: '/docs/json', status: 200 },
  { method: 'GET', url: '/docs/', route: '/docs', status: 200 }, // one route serves both spellings
  { method: 'GET', url: '/no/such/route/31337', route: 'unmatched', status: 404 },
  { method: 'POST', url: '/get_server/users/31337/anything', route: 'unmatched', status: 404 }
]

/** What a role's /metrics must and must not expose (its own series, not another role's). */
const OWN: Record<string, { has: string[], hasNot: string[] }> = {
  read: { has: ['pb_cache_lookups_total', 'pb_singleflight_joins_total', 'pb_identity_verdicts_total'], hasNot: ['pb_outbox_pending', 'pb_consumer_lag_messages'] },
  write: { has: ['pb_events_published_total', 'pb_outbox_pending', 'pb_producer_errors_total'], hasNot: ['pb_cache_lookups_total', 'pb_consumer_events_total'] },
  consumer: { has: ['pb_consumer_events_total', 'pb_consumer_lag_messages', 'pb_dlq_messages_total'], hasNot: ['pb_cache_lookups_total', 'pb_outbox_pending'] }
}
const SHARED = ['pb_http_requests_total', 'pb_http_request_duration_seconds', 'pb_mongo_duration_seconds', 'pb_redis_duration_seconds', 'pb_build_info',
  // prom-client's process metrics, under their standard names.
  'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']

async function checkExposition (t: Assert, app: FastifyInstance, role: string): Promise<void> {
  const res = await app.inject('/metrics')
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
  t.notMatch(res.body, /^"/, 'served as text, not as a JSON string')
  for (const name of [...SHARED, ...OWN[role]!.has]) t.match(res.body, new RegExp(`^# TYPE ${name} `, 'm'), `${role} exposes ${name}`)
  for (const name of OWN[role]!.hasNot) t.notMatch(res.body, new RegExp(`^# TYPE ${name} `, 'm'), `${role} does not expose ${name}`)
  t.notMatch(res.body, /pb_process_/, 'no prefixed copy of the process metrics')
  t.match(res.body, new RegExp(`^pb_build_info\\{version="\\d+\\.\\d+\\.\\d+[^"]*",commit="[^"]+",node_version="${process.version}",roles="${role === 'all' ? 'read,write,consumer' : role}"\\} 1$`, 'm'), 'build info: version, commit, Node.js, roles')
  t.match(res.body, /^pb_http_request_duration_seconds_bucket\{le="30",/m, 'latency buckets reach 30 s')
  t.match(res.body, /route="unmatched"/)
  // Only the label sets: a sample value (bytes, CPU seconds) may contain the digits by chance.
  const labels = res.body.match(/\{[^}]*\}/g) ?? []
  t.ok(labels.length > 0, 'the exposition has labelled series')
  t.notOk(labels.some((l) => l.includes('31337')), 'no raw URL, id or path in any label')
}

t.test('read role: every route moves the HTTP series by template', async (t) => {
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'lambda' })
  await throughEveryRoute(t, app, [
    { method: 'GET', url: '/get_server/users/31337', route: '/get_server/users/:id', status: 404, auth: true },
    { method: 'GET', url: '/get_server/users/31337', route: '/get_server/users/:id', status: 401 },
    { method: 'GET', url: '/get_server/posts/31337', route: '/get_server/posts/:id', status: 404, auth: true },
    { method: 'GET', url: '/get_server/posts/abc', route: '/get_server/posts/:id', status: 400, auth: true },
    { method: 'GET', url: '/get_server/posts?limit=5', route: '/get_server/posts', status: 200, auth: true },
    ...COMMON
  ])
  await checkExposition(t, app, 'read')
})

t.test('write role: every route moves the HTTP series by template', async (t) => {
  const app = await build(t, { role: 'write' })
  const user = (await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'metrics-author' } })).json<{ user_id: number }>()
  const post = (await app.inject({ method: 'POST', url: '/post_server/posts', payload: { user_id: user.user_id, title: 't', content: 'c' } })).json<{ post_id: number }>()
  await throughEveryRoute(t, app, [
    { method: 'POST', url: '/post_server/users', route: '/post_server/users', status: 201, body: { username: 'metrics-user' } },
    { method: 'POST', url: '/post_server/users', route: '/post_server/users', status: 409, body: { username: 'metrics-user' } },
    { method: 'POST', url: '/post_server/users', route: '/post_server/users', status: 400, body: { username: '' } },
    { method: 'POST', url: '/post_server/posts', route: '/post_server/posts', status: 201, body: { user_id: user.user_id, title: 'm', content: 'c' } },
    { method: 'POST', url: `/post_server/posts/${post.post_id}/like`, route: '/post_server/posts/:id/like', status: 200 },
    { method: 'POST', url: `/post_server/posts/${post.post_id}/dislike`, route: '/post_server/posts/:id/dislike', status: 200 },
    { method: 'POST', url: '/post_server/posts/31337/like', route: '/post_server/posts/:id/like', status: 404 },
    ...COMMON
  ])
  await checkExposition(t, app, 'write')
})

t.test('consumer role: its routes move the HTTP series too', async (t) => {
  const app = await build(t, { role: 'consumer' })
  await throughEveryRoute(t, app, COMMON)
  await checkExposition(t, app, 'consumer')
})

async function produce (config: Config, messages: Array<{ key: string, value: string }>): Promise<void> {
  const producer = new kafkajs.Kafka({ brokers: config.kafkaBrokers, logLevel: kafkajs.logLevel.NOTHING }).producer()
  await producer.connect()
  try {
    await producer.send({ topic: config.eventsTopic, messages })
  } finally {
    await producer.disconnect()
  }
}

t.test('domain series: traffic through every role moves what it owns', async (t) => {
  // Identity through the Lambda emulator, so invoke latency and both verdict sources move.
  const env = isolatedEnv({ RELAY_INTERVAL_MS: '100', IDENTITY_MODE: 'lambda' })
  const config = loadConfig({ role: 'all' }, env)
  t.teardown(async () => { await dropNamespace(config) })
  const app = await build(t, config)
  const auth = await bearer(app, '1')
  const moved = async (name: string, labels: Labels, action: () => Promise<unknown>, what = name): Promise<void> => {
    const before = await metricValue(name, labels, app)
    await action()
    await waitFor(`${what} ${JSON.stringify(labels)}`, async () => await metricValue(name, labels, app) > before, 30_000)
    t.pass(`${what} ${JSON.stringify(labels)} moved`)
  }

  // Write path: MongoDB latency, inline publishes; then the consumer applies both events.
  let user = { user_id: 0 }
  let post = { post_id: 0 }
  await moved('pb_events_published_total', { path: 'inline' }, async () => {
    await moved('pb_mongo_duration_seconds', {}, async () => {
      user = (await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'domain' } })).json()
    })
    post = (await app.inject({ method: 'POST', url: '/post_server/posts', payload: { user_id: user.user_id, title: 't', content: 'c' } })).json()
  })
  await waitFor('the consumer to apply both events', async () => await app.redis.exists(entityKey('user', user.user_id), entityKey('post', post.post_id)) === 2, 30_000)
  // The keys can be seen on the test's connection a moment before the consumer has read its own reply and counted.
  await waitFor('the consumer to count both events', async () => await metricValue('pb_consumer_events_total', { result: 'applied' }, app) >= 2, 10_000)
  t.pass('consumer: applied')
  t.ok(await metricValue('pb_consumer_apply_duration_seconds', {}, app) >= 2, 'consumer: apply latency')
  t.ok(await metricValue('pb_consumer_freshness_seconds', {}, app) >= 2, 'consumer: freshness lag')
  await waitFor('the consumer lag gauge', async () => await samples(app, 'pb_consumer_lag_messages') > 0, 30_000)
  t.pass('consumer: lag per partition')

  // Read path: identity (invoke, then the verdict cache), cache hit, Redis latency.
  await moved('pb_identity_verdicts_total', { source: 'invoke', result: 'valid' }, async () => {
    await moved('pb_identity_invoke_duration_seconds', {}, async () => {
      await moved('pb_cache_lookups_total', { entity: 'user', result: 'hit' }, async () => {
        await moved('pb_redis_duration_seconds', {}, async () => {
          t.equal((await app.inject({ url: `/get_server/users/${user.user_id}`, headers: auth })).statusCode, 200)
        })
      })
    })
  })
  await moved('pb_identity_verdicts_total', { source: 'cache', result: 'valid' }, async () => {
    await app.inject({ url: `/get_server/users/${user.user_id}`, headers: auth })
  })

  // Misses: a cold post is loaded once for many concurrent readers (single flight) and filled through the CAS.
  await app.redis.del(entityKey('post', post.post_id))
  await moved('pb_cache_lookups_total', { entity: 'post', result: 'miss' }, async () => {
    await moved('pb_singleflight_joins_total', { entity: 'post' }, async () => {
      await moved('pb_cache_fills_total', { entity: 'post', result: 'stored' }, async () => {
        const answers = await Promise.all(Array.from({ length: 20 }, async () =>
          await app.inject({ url: `/get_server/posts/${post.post_id}`, headers: auth })))
        t.ok(answers.every((a) => a.statusCode === 200), 'all concurrent readers answered')
      })
    })
  })
  // An absent id: a miss fills a negative entry, which the next read hits.
  await app.inject({ url: '/get_server/users/999999', headers: auth })
  await moved('pb_cache_lookups_total', { entity: 'user', result: 'negative_hit' }, async () => {
    t.equal((await app.inject({ url: '/get_server/users/999999', headers: auth })).statusCode, 404)
  })
  await moved('pb_cache_lookups_total', { entity: 'post_list' }, async () => {
    t.equal((await app.inject({ url: '/get_server/posts', headers: auth })).statusCode, 200)
  })

  // The CAS: after a like (version 2) is applied, a replayed version-1 event is refused as stale.
  await app.inject({ method: 'POST', url: `/post_server/posts/${post.post_id}/like` })
  await waitFor('the like to reach the cache', async () =>
    (await app.inject({ url: `/get_server/posts/${post.post_id}`, headers: auth })).json<{ like_count: number }>().like_count === 1, 30_000)
  const v1 = { ...post, like_count: 0, dislike_count: 0 }
  await moved('pb_cache_cas_rejections_total', { source: 'consumer' }, async () => {
    await moved('pb_consumer_events_total', { result: 'stale' }, async () => {
      await produce(config, [{ key: `post:${post.post_id}`, value: JSON.stringify({ type: 'post', id: post.post_id, version: 1, data: v1, occurred_at: new Date().toISOString() }) }])
    })
  })

  // A poison message is retried, then dead-lettered.
  await moved('pb_dlq_messages_total', {}, async () => {
    await moved('pb_consumer_events_total', { result: 'dead_lettered' }, async () => {
      await produce(config, [{ key: 'post:1', value: 'not an event' }])
    })
  })

  // Idempotency-Key: the second POST is answered from the stored result.
  const key = { 'idempotency-key': 'ops-metrics-replay-1' }
  await app.inject({ method: 'POST', url: '/post_server/users', headers: key, payload: { username: 'once' } })
  await moved('pb_idempotent_replays_total', {}, async () => {
    t.equal((await app.inject({ method: 'POST', url: '/post_server/users', headers: key, payload: { username: 'once' } })).statusCode, 201)
  })
})

t.test('outbox: a write while Kafka is unreachable counts a producer error and stays pending; the relay publishes it', async (t) => {
  const env = isolatedEnv({ RELAY_INTERVAL_MS: '100' })
  t.teardown(async () => { await dropNamespace(loadConfig({}, env)) })
  // A write role whose broker address refuses connections, on the same database as a healthy one started later.
  const cut = await build(t, loadConfig({ role: 'write' }, { ...env, KAFKA_BROKERS: '127.0.0.1:1' }))
  const errors = await metricValue('pb_producer_errors_total', {}, cut)
  const created = await cut.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'pending' } })
  t.equal(created.statusCode, 201, 'the write succeeds without Kafka')
  await waitFor('a producer error', async () => await metricValue('pb_producer_errors_total', {}, cut) > errors, 60_000)
  t.pass('producer error counted')
  await waitFor('the relay to see the pending document', async () => await metricValue('pb_outbox_pending', {}, cut) >= 1, 30_000)
  t.pass('outbox pending counted')
  await cut.close()

  const healthy = await build(t, loadConfig({ role: 'write' }, env))
  await waitFor('the relay to publish it', async () => await metricValue('pb_events_published_total', { path: 'relay' }, healthy) > 0, 30_000)
  t.pass('relay publish counted')
  await waitFor('the outbox to drain', async () => await metricValue('pb_outbox_pending', {}, healthy) === 0, 30_000)
  t.pass('outbox pending back to 0')
})
