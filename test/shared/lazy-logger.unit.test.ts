// Per-request loggers are made on first use: a request that writes no line (the usual case at LOG_LEVEL=warn) never
// builds a pino child, and one that does write gets the real child, its lines carrying the request's reqId.
import t from 'tap'
import Fastify from 'fastify'
import { pino } from 'pino'
import { LazyChildLogger, lazyChildLogger } from '../../src/shared/lazy-logger.js'

function capture (level: string): { logger: pino.Logger, lines: Array<Record<string, unknown>>, children: () => number } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  let made = 0
  const child = logger.child // pino's own, called on whichever logger it is asked of (children inherit this spy)
  logger.child = function (this: pino.Logger, bindings, opts) { made++; return child.call(this, bindings, opts) } as typeof logger.child
  return { logger, lines, children: () => made }
}

t.test('through Fastify: no child for quiet requests, the reqId on every line that is written', async (t) => {
  const { logger, lines, children } = capture('warn')
  const app = Fastify({ loggerInstance: logger, childLoggerFactory: lazyChildLogger })
  app.get('/quiet', async (req) => { req.log.info('not at warn'); return 'ok' })
  app.get('/loud', async (req) => { req.log.warn({ why: 'test' }, 'a warning'); return 'ok' })
  t.teardown(async () => { await app.close() })

  const before = children()
  t.equal((await app.inject('/quiet')).statusCode, 200)
  t.equal(children(), before, 'no pino child for a request that wrote nothing')
  t.equal(lines.length, 0)

  t.equal((await app.inject({ url: '/loud', headers: { 'x-request-id': 'r-1' } })).statusCode, 200)
  t.equal(children(), before + 1, 'the child is made for the first line written')
  t.match(lines, [{ level: 40, msg: 'a warning', why: 'test', reqId: /\S/ }])
})

t.test('the lazy child behaves as the child it stands for', async (t) => {
  const { logger, lines, children } = capture('info')
  const lazy = new LazyChildLogger(logger, { reqId: 'abc' }, {})
  t.equal(lazy.level, 'info', 'the parent\'s level before any line')
  lazy.debug('below the level')
  lazy.silent('never written')
  t.equal(children(), 0)
  lazy.info('first line')
  lazy.debug('still below the level, now asked of the child')
  t.equal(children(), 1, 'one child, made once')
  t.equal(lazy.level, 'info')
  lazy.level = 'debug'
  lazy.debug('after lowering the level')
  t.equal(logger.level, 'info', 'the parent\'s level is untouched')
  const grandchild = lazy.child({ step: 2 })
  grandchild.error('from a grandchild')
  t.same(lines.map((l) => [l.msg, l.reqId, l.step]), [
    ['first line', 'abc', undefined],
    ['after lowering the level', 'abc', undefined],
    ['from a grandchild', 'abc', 2]
  ])

  const own = lazyChildLogger(logger, { reqId: 'x' }, { level: 'error' })
  t.notOk(own instanceof LazyChildLogger, 'a route with its own level gets a real child at once')
  t.equal(own.level, 'error')
})
