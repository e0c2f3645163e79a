// Listens and shuts down gracefully (close-with-grace). On SIGINT/SIGTERM, or an uncaught error (which is how a
// background loop reports a fatal failure: it rethrows out of band), the same path runs: stop accepting, finish
// in-flight requests, then close every plugin in reverse registration order (consumer commits and leaves, producer and
// relay flush, then the MongoDB and Redis clients close). A signal exits 0, an error exits 1, a hang is cut at the grace.
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { stdSerializers, type LoggerOptions } from 'pino'
import { buildApp } from './app.js'
import { redact, type Config } from './shared/config.js'

/** Longer than the slowest onClose (a consumer leaving its group); orchestrators must wait longer still (20 s). */
export const SHUTDOWN_GRACE_MS = 15_000

/** Paths pino censors wherever they appear: credentials in headers, tokens, secrets and passwords. */
const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]', 'res.headers["set-cookie"]',
  'headers.authorization', '*.headers.authorization',
  'token', '*.token', 'accessToken', '*.accessToken', 'password', '*.password', 'secret', '*.secret',
  'config.token', 'redisUrl', 'mongoUrl', '*.redisUrl', '*.mongoUrl'
]

/** Masks a bearer token or a URL's password inside free text (error messages and stacks). */
export function scrub (text: string): string {
  // Free text may hold tokens as well as URLs: mask those, then every URL password the same way config does.
  return redact(text.replace(/\b(Bearer\s+)[\w.~+/-]+=*/gi, '$1[redacted]'))
}

/**
 * The production logger: pino JSON (one object per line, each request's lines carry its reqId), pretty only when a
 * person is watching (stdout is a TTY), and never a token or a password.
 */
export function loggerOptions (config: Pick<Config, 'logLevel'>, tty = process.stdout.isTTY === true): LoggerOptions {
  return {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: (err: Error) => {
        const out = stdSerializers.err(err)
        out.message = scrub(out.message)
        if (typeof out.stack === 'string') out.stack = scrub(out.stack)
        return out
      }
    },
    ...(tty && { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } })
  }
}

export async function startServer (config: Config): Promise<FastifyInstance> {
  const app = await buildApp(config, { logger: loggerOptions(config) })
  const grace = closeWithGrace({
    delay: SHUTDOWN_GRACE_MS,
    // close-with-grace reports a timeout, a second signal or a second error here, just before it exits 1.
    logger: { error: (msg: unknown) => { app.log.fatal(msg instanceof Error ? { err: msg } : { detail: msg }, 'shutdown: forced exit') } }
  }, async ({ signal, err }) => {
    if (err !== undefined) app.log.fatal({ err }, 'fatal error; shutting down')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
    app.log.info('shut down cleanly')
  })
  try {
    await app.listen({ host: config.host, port: config.port })
  } catch (err) {
    // A failed boot (port taken, a required dependency unreachable) closes what it opened before reporting.
    grace.uninstall()
    await app.close().catch(() => {})
    throw err
  }
  app.log.info({ roles: [...config.roles], cacheUpdate: config.cacheUpdate, identity: config.identity.mode }, 'postboard ready')
  return app
}
