// Request ids: the router's X-Request-Id when it sends one, else this process's random prefix and a counter, so a
// request's log lines share an id that no other replica hands out.
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { requestIdGenerator } from '../../src/request-id.js'
import { testConfig } from '../helper/index.js'

t.test('ids are distinct, share their process prefix, and two processes have different prefixes', async (t) => {
  const next = requestIdGenerator()
  const ids = Array.from({ length: 1000 }, () => next())
  t.equal(new Set(ids).size, 1000, 'no repeats')
  t.ok(ids.every((id) => /^[0-9a-f]{12}-[0-9a-z]+$/.test(id)), 'prefix-counter')
  t.equal(new Set(ids.map((id) => id.split('-')[0])).size, 1, 'one prefix per generator')
  t.not(requestIdGenerator()().split('-')[0], ids[0]!.split('-')[0], 'another process (generator) has its own prefix')
})

t.test('through the app: X-Request-Id is kept, otherwise each request gets its own id', async (t) => {
  const lines: Array<{ reqId?: string, msg?: string }> = []
  const stream = { write: (line: string) => { lines.push(JSON.parse(line) as { reqId?: string }) } }
  const app = await buildApp(testConfig({ role: 'read' }), { logger: { level: 'info', stream } })
  t.teardown(async () => { await app.close() })
  await app.ready()
  await app.inject({ url: '/health/live', headers: { 'x-request-id': 'router-7' } })
  await app.inject({ url: '/health/live' })
  await app.inject({ url: '/health/live' })
  const ids = [...new Set(lines.filter((l) => l.msg === 'incoming request').map((l) => l.reqId))]
  t.equal(ids.length, 3, 'three requests, three ids')
  t.equal(ids[0], 'router-7', 'the router\'s id is kept')
  t.match(ids[1], /^[0-9a-f]{12}-[0-9a-z]+$/, 'a fresh one otherwise')
  t.not(ids[1], ids[2])
})
