// The logger the executable configures, in-process: JSON lines unless a person watches (pretty only on a TTY), and
// what it censors (tokens, passwords, the token secret). (The real process's shutdown and logs: shutdown.test.ts.)
import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loggerOptions, scrub } from '../../src/server.js'

t.test('the logger: JSON unless a person watches, and what it censors', async (t) => {
  t.equal(loggerOptions({ logLevel: 'info' }, false).transport, undefined, 'plain JSON lines when stdout is not a TTY')
  t.match(loggerOptions({ logLevel: 'info' }, true).transport, { target: 'pino-pretty' }, 'pretty on a TTY')
  t.ok(import.meta.resolve('pino-pretty'), 'pino-pretty is installed for that')

  let out = ''
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { out += chunk.toString(); done() } })
  const log = pino(loggerOptions({ logLevel: 'info' }, false), sink)
  log.info({ req: { headers: { authorization: 'Bearer aaa.bbb.ccc', cookie: 'sid=1' } } }, 'request')
  log.info({ token: 'tok-1', user: { password: 'pw-1', secret: 'sec-1' }, config: { token: { secret: 'sec-2' } } }, 'settings')
  log.info({ client: { mongoUrl: 'mongodb://u:pw-2@h:1', redisUrl: 'redis://:pw-3@h:2' } }, 'clients')
  log.error({ err: new Error('cannot reach mongodb://admin:pw-4@db:27017 with Bearer eyJhbGciOi.payload.sig') }, 'failed')
  for (const leaked of ['aaa.bbb.ccc', 'sid=1', 'tok-1', 'pw-1', 'sec-1', 'sec-2', 'pw-2', 'pw-3', 'pw-4', 'eyJhbGciOi']) {
    t.notOk(out.includes(leaked), `censors ${leaked}`)
  }
  t.match(out, /\[redacted\]/)
  t.match(out, /mongodb:\/\/admin:\*\*\*@db:27017/, 'an error message keeps the host, loses the password')
  t.equal(scrub('no secrets here'), 'no secrets here')
})
