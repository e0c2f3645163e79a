// The metrics plugin on a bare Fastify (no server): a route with onResponse hooks of its own keeps them and is still
// counted once. (Every route of every role, and the domain series under real traffic: metrics.test.ts.)
import t from 'tap'
import Fastify from 'fastify'
import { isolatedEnv, metricValue } from '../helper/index.js'
import configPlugin from '../../plugins/config.js'
import metricsPlugin from '../../plugins/metrics.js'
import { loadConfig } from '../../src/shared/config.js'

t.test('a route with onResponse hooks of its own keeps them, and is still counted once', async (t) => {
  // The metrics plugin gives every route its own onResponse hook at registration; a route's own hooks (one, or a
  // list) must still run after it.
  const app = Fastify({ logger: false })
  await app.register(configPlugin, { config: loadConfig({}, isolatedEnv()) })
  await app.register(metricsPlugin)
  const ran: string[] = []
  app.get('/own-hook', { onResponse: (_req, _reply, done) => { ran.push('one'); done() } }, async () => 'ok')
  app.get('/own-hooks', {
    onResponse: [(_req, _reply, done) => { ran.push('first'); done() }, (_req, _reply, done) => { ran.push('second'); done() }]
  }, async () => 'ok')
  t.teardown(async () => { await app.close() })
  for (const url of ['/own-hook', '/own-hooks']) {
    const before = await metricValue(app.metrics.httpRequests, { route: url, status: '200' })
    t.equal((await app.inject(url)).statusCode, 200)
    t.equal(await metricValue(app.metrics.httpRequests, { route: url, status: '200' }) - before, 1, `${url} counted once`)
  }
  t.same(ran, ['one', 'first', 'second'], 'the routes\' own hooks ran, in order')
})
