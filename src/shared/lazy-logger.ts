// Per-request loggers made on first use. Fastify gives every request a pino child bound to its reqId; pino builds a
// child eagerly (it serializes and redacts the bindings), which the profile of cached reads put at ~3% of the read
// role's CPU although a tuned deployment (LOG_LEVEL=warn) writes no line for a request that goes well. A lazy child
// answers disabled levels itself and creates the real child the first time a line is actually written, so every
// line still carries the request's reqId.
import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, Level, LevelWithSilent } from 'pino'

type LogFn = FastifyBaseLogger['info']
type Logs = Pick<FastifyBaseLogger, Level>

/** The parent's isLevelEnabled, when it is a pino logger (Fastify's noop logger has none: then always delegate). */
function enabled (parent: FastifyBaseLogger, level: Level): boolean {
  const check = (parent as Partial<{ isLevelEnabled: (l: string) => boolean }>).isLevelEnabled
  return check === undefined || check.call(parent, level)
}

export class LazyChildLogger implements FastifyBaseLogger {
  private real: FastifyBaseLogger | undefined

  constructor (private readonly parent: FastifyBaseLogger, private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions) {}

  /** The real pino child, created on the first line written (or the first question only it can answer). */
  private get logger (): FastifyBaseLogger {
    this.real ??= this.parent.child(this.bindings, this.opts)
    return this.real
  }

  get level (): LevelWithSilent | string { return this.real?.level ?? this.parent.level }
  set level (level: LevelWithSilent | string) { this.logger.level = level }

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger { return this.logger.child(bindings, options) }

  // The level methods live on the prototype (set below), so a request's logger costs one small object.
  declare fatal: LogFn
  declare error: LogFn
  declare warn: LogFn
  declare info: LogFn
  declare debug: LogFn
  declare trace: LogFn
  declare silent: LogFn

  /** Writes through the real child, unless nothing was written yet and the level is off (the usual case). */
  logAt (level: Level, args: Parameters<LogFn>): void {
    if (this.real === undefined && !enabled(this.parent, level)) return
    ;(this.logger as Logs)[level](...args)
  }
}

for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const) {
  LazyChildLogger.prototype[level] = function (this: LazyChildLogger, ...args: Parameters<LogFn>) {
    this.logAt(level, args)
  } as LogFn
}
LazyChildLogger.prototype.silent = (() => {}) as LogFn

/**
 * Fastify's childLoggerFactory: lazy children, except where a route sets its own level or serializers (then the
 * real child is made at once, as Fastify would).
 */
export function lazyChildLogger (logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  if (opts.level !== undefined || opts.serializers !== undefined) return logger.child(bindings, opts)
  return new LazyChildLogger(logger, bindings, opts)
}
