// Request ids through the app: the router's X-Request-Id when it sends one, else a fresh id per request, on every log
// line of that request. (The generator itself: request-id.unit.test.ts.)
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helper/index.js'

t.test('through the app: X-Request-Id is kept, otherwise each request gets its own id', async (t) => {
  const lines: Array<{ reqId?: string, msg?: string }> = []
  const stream = { write: (line: string) => { lines.push(JSON.parse(line) as { reqId?: string }) } }
  const app = await buildApp(testConfig({ role: 'read' }, { REQUEST_LOG: 'all' }), { logger: { level: 'info', stream } })
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
