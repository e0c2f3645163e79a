// Request logging (plugins/request-log.ts): by default a request gets a log line only when it was slow or answered
// 5xx; REQUEST_LOG=all gives Fastify's two lines per request; a bad setting stops the boot naming it.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/shared/config.js'
import { testConfig, type Tap } from '../helper/index.js'

interface Line { level: number, msg: string, responseTime?: number, res?: { statusCode: number }, req?: { url: string } }

async function appLogging (t: Tap, env: Record<string, string>): Promise<{ inject: (url: string) => Promise<number>, lines: Line[] }> {
  const lines: Line[] = []
  const stream = { write: (line: string) => { lines.push(JSON.parse(line) as Line) } }
  const app = await buildApp(testConfig({ role: 'read' }, env), { logger: { level: 'info', stream } })
  t.teardown(async () => { await app.close() })
  app.get('/test/slow', async () => { await sleep(80); return { ok: true } })
  app.get('/test/broken', async () => { throw new Error('broken on purpose') })
  await app.ready()
  return { inject: async (url) => (await app.inject(url)).statusCode, lines }
}

t.test('by default: fast requests log nothing; a slow one and a 5xx one warn line each, with their timing', async (t) => {
  const { inject, lines } = await appLogging(t, { SLOW_REQUEST_MS: '50' })
  const before = lines.length
  t.equal(await inject('/health/live'), 200)
  t.equal(await inject('/test/nothing-here'), 404)
  t.same(lines.slice(before).filter((l) => l.msg === 'incoming request' || l.msg === 'request completed'), [], 'no per-request lines')
  t.equal(await inject('/test/slow'), 200)
  t.equal(await inject('/test/broken'), 500)
  const warned = lines.filter((l) => l.level === 40 && l.req !== undefined)
  t.match(warned, [
    { msg: /^slow request: \d+ ms$/, req: { url: '/test/slow' }, res: { statusCode: 200 } },
    { msg: 'request completed with a server error', req: { url: '/test/broken' }, res: { statusCode: 500 } }
  ])
  t.ok(warned.every((l) => typeof l.responseTime === 'number'), 'each with its response time')
  t.ok(warned[0]!.responseTime! >= 50, `the slow one took at least the threshold (${warned[0]!.responseTime} ms)`)
  t.ok(lines.some((l) => l.level === 50 && l.msg === 'request failed'), 'and the error handler logged the failure itself')
})

t.test('REQUEST_LOG=all: two lines for every request, as Fastify logs them', async (t) => {
  const { inject, lines } = await appLogging(t, { REQUEST_LOG: 'all' })
  const before = lines.length
  await inject('/health/live')
  t.same(lines.slice(before).map((l) => l.msg), ['incoming request', 'request completed'])
})

t.test('a bad REQUEST_LOG or SLOW_REQUEST_MS stops the boot, naming it', async (t) => {
  t.throws(() => loadConfig({}, { REQUEST_LOG: 'some' }), /REQUEST_LOG/)
  t.throws(() => loadConfig({}, { SLOW_REQUEST_MS: '0' }), /SLOW_REQUEST_MS/)
  t.same(loadConfig({}, {}).requestLog, { mode: 'errors', slowMs: 1000 }, 'the defaults')
})
