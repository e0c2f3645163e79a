// Configuration: every setting read once at boot from flags and environment, validated, and exposed as one typed
// object. A bad value stops the process with one line naming the setting, before anything connects.
// Longer than most files: every setting, its default and its check sit in one table-like loader, so an operator's
// question "what does X accept?" has one place to look (docs/operations.md mirrors it).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseRoles, type Role } from './roles.js'
import { resolveSecretFiles } from './secret-files.js'
import { kafkaSecurity, type KafkaSecurity } from './kafka-security.js'
import { trustedProxies } from './trusted-proxies.js'

export class ConfigError extends Error {}

export type CacheUpdate = 'events' | 'write-through'
export type WriteConnections = 'pooled' | 'per-request'
export type IdentityMode = 'lambda' | 'local' | 'off'
export type RequestLog = 'errors' | 'all'

/**
 * How long an Idempotency-Key stays claimed by a request that never finished: after it, a retry runs the write again.
 * Every time limit below is shorter, so a write cannot still be running when its retry starts.
 */
export const IDEMPOTENCY_LEASE_MS = 60_000

/** Time limits on every call to a dependency and on a write's wait for its batch (each below the lease). */
export interface Timeouts {
  /** A MongoDB operation's wait for its answer on an open connection (the driver's socketTimeoutMS). */
  mongoSocketMs: number
  /** Finding a usable MongoDB server (serverSelectionTimeoutMS), and opening a connection to it (connectTimeoutMS). */
  mongoServerSelectionMs: number
  mongoConnectMs: number
  /** A Redis command's wait for its answer, and connecting to Redis. */
  redisCommandMs: number
  redisConnectMs: number
  /** A Kafka request's wait for its answer, and connecting to a broker. */
  kafkaRequestMs: number
  kafkaConnectionMs: number
  /** The longest a write waits for its group-commit batch to start; after it the write does not run (503). */
  writeQueueMs: number
}

export interface Config {
  roles: Set<Role>
  host: string
  port: number
  logLevel: string
  /** Which requests get a log line: slow ones and 5xx (errors), or every one (all, Fastify's own two lines). */
  requestLog: { mode: RequestLog, slowMs: number }
  bodyLimit: number
  /** Proxies whose X-Forwarded-For names the client (src/shared/trusted-proxies.ts); empty: none. */
  trustProxy: string[]
  redisUrl: string
  /** Prepended to every Redis key; lets several deployments (or test runs) share one Redis. */
  redisKeyPrefix: string
  mongoUrl: string
  mongoDatabase: string
  mongoReadPoolSize: number
  mongoWritePoolSize: number
  writeConnections: WriteConnections
  kafkaBrokers: string[]
  kafkaClientId: string
  /** TLS and SASL towards the brokers (src/shared/kafka-security.ts); holds the SASL password: never log it. */
  kafkaSecurity: KafkaSecurity
  eventsTopic: string
  dlqTopic: string
  topicPartitions: number
  consumerGroup: string
  cacheUpdate: CacheUpdate
  /** How long a create or reaction batch that follows another waits for more writes to join it (0 = not at all). */
  writeBatchLingerMs: number
  cacheTtlSeconds: number
  /** Read role's in-process near cache: entries (0 = off; 10,000 by default) and the longest an entry is served. */
  nearCache: { entries: number, maxAgeMs: number }
  negativeTtlSeconds: number
  relayIntervalMs: number
  idempotencyTtlSeconds: number
  authWrites: boolean
  timeouts: Timeouts
  identity: {
    mode: IdentityMode
    lambdaEndpoint: string
    functionName: string
    region: string
    timeoutMs: number
    verdictCacheMaxSeconds: number
    negativeVerdictSeconds: number
    maxInvokes: number
    queuePerClient: number
    queueMax: number
  }
  token: { secret: string, issuer: string, audience: string }
  /** The commit this build was made from (BUILD_COMMIT), for `pb_build_info`; 'unknown' when not set. */
  buildCommit: string
  /** Spans to an OTLP/HTTP collector (`otlp`) or none; the exporter reads its endpoint from OTEL_EXPORTER_OTLP_*. */
  tracing: { exporter: 'otlp' | 'none', serviceName: string }
}

/** Flags given on the command line; each wins over its environment variable. */
export interface ConfigFlags {
  role?: string
  port?: string
  host?: string
  cacheUpdate?: string
  writeConnections?: string
  authWrites?: boolean
}

type Env = Record<string, string | undefined>

/**
 * The token secret: TOKEN_SECRET, else the one the local stack generated for this machine (its git-ignored
 * `token-secret` file), else none. No secret is ever part of the repository. Only IDENTITY_MODE=local and
 * `postboard token` need one; the Lambda function holds its own.
 */
function tokenSecret (env: Env): string {
  if (env.TOKEN_SECRET !== undefined && env.TOKEN_SECRET !== '') return env.TOKEN_SECRET
  const file = join(env.POSTBOARD_STACK_DIR ?? join(process.cwd(), '.stack'), 'token-secret')
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : ''
}

export function loadConfig (flags: ConfigFlags = {}, given: Env = process.env): Config {
  const { env, label } = resolveSecretFiles(given, (message) => new ConfigError(message))
  const read = new Reader(env, label)
  const roles = parseRolesOrThrow(flags.role ?? env.ROLE ?? 'all')
  const token = {
    secret: tokenSecret(env),
    issuer: read.str('TOKEN_ISSUER', 'postboard'),
    audience: read.str('TOKEN_AUDIENCE', 'postboard-api')
  }
  if (token.secret !== '' && token.secret.length < 32) throw new ConfigError(`${label('TOKEN_SECRET')}: must be at least 32 characters for HS256`)
  const config: Config = {
    roles,
    host: flags.host ?? read.str('HOST', '127.0.0.1'),
    port: read.int(flags.port !== undefined ? '--port' : 'PORT', flags.port ?? env.PORT, 8080, 0, 65535),
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    requestLog: {
      mode: read.oneOf('REQUEST_LOG', ['errors', 'all'], 'errors'),
      slowMs: read.int('SLOW_REQUEST_MS', env.SLOW_REQUEST_MS, 1000, 1, 600_000)
    },
    bodyLimit: read.int('BODY_LIMIT_BYTES', env.BODY_LIMIT_BYTES, 128 * 1024, 1024, 16 * 1024 * 1024),
    trustProxy: trustedProxies(read.str('TRUST_PROXY', ''), (message) => new ConfigError(message)),
    redisUrl: read.url('REDIS_URL', 'redis://127.0.0.1:6380', ['redis:', 'rediss:']),
    redisKeyPrefix: read.str('REDIS_KEY_PREFIX', ''),
    mongoUrl: read.url('MONGODB_URL', 'mongodb://127.0.0.1:27018', ['mongodb:', 'mongodb+srv:']),
    mongoDatabase: read.str('MONGODB_DATABASE', 'postboard'),
    mongoReadPoolSize: read.int('MONGODB_READ_POOL_SIZE', env.MONGODB_READ_POOL_SIZE, 20, 1, 1000),
    mongoWritePoolSize: read.int('MONGODB_WRITE_POOL_SIZE', env.MONGODB_WRITE_POOL_SIZE, 20, 1, 1000),
    writeConnections: read.oneOf(flags.writeConnections !== undefined ? '--write-connections' : 'WRITE_CONNECTIONS',
      ['pooled', 'per-request'], 'pooled', flags.writeConnections),
    kafkaBrokers: read.list('KAFKA_BROKERS', '127.0.0.1:9092'),
    kafkaClientId: read.str('KAFKA_CLIENT_ID', 'postboard'),
    kafkaSecurity: kafkaSecurity({
      env,
      label,
      bool: (name) => read.bool(name, false),
      oneOf: (name, allowed) => read.oneOf(name, allowed, undefined),
      fail: (message) => new ConfigError(message)
    }),
    eventsTopic: read.str('KAFKA_EVENTS_TOPIC', 'postboard.events'),
    dlqTopic: read.str('KAFKA_DLQ_TOPIC', 'postboard.events.dlq'),
    topicPartitions: read.int('KAFKA_TOPIC_PARTITIONS', env.KAFKA_TOPIC_PARTITIONS, 3, 1, 1000),
    consumerGroup: read.str('KAFKA_CONSUMER_GROUP', 'postboard-cache'),
    cacheUpdate: read.oneOf(flags.cacheUpdate !== undefined ? '--cache-update' : 'CACHE_UPDATE',
      ['events', 'write-through'], 'events', flags.cacheUpdate),
    writeBatchLingerMs: read.int('WRITE_BATCH_LINGER_MS', env.WRITE_BATCH_LINGER_MS, 2, 0, 100),
    cacheTtlSeconds: read.int('CACHE_TTL_SECONDS', env.CACHE_TTL_SECONDS, 3600, 1, 30 * 86400),
    negativeTtlSeconds: read.int('NEGATIVE_TTL_SECONDS', env.NEGATIVE_TTL_SECONDS, 5, 1, 3600),
    nearCache: {
      entries: read.int('NEAR_CACHE_ENTRIES', env.NEAR_CACHE_ENTRIES, 10_000, 0, 10_000_000),
      maxAgeMs: read.int('NEAR_CACHE_MAX_AGE_MS', env.NEAR_CACHE_MAX_AGE_MS, 1000, 1, 3_600_000)
    },
    relayIntervalMs: read.int('RELAY_INTERVAL_MS', env.RELAY_INTERVAL_MS, 1000, 50, 600000),
    idempotencyTtlSeconds: read.int('IDEMPOTENCY_TTL_SECONDS', env.IDEMPOTENCY_TTL_SECONDS, 86400, 60, 7 * 86400),
    authWrites: flags.authWrites ?? read.bool('AUTH_WRITES', false),
    timeouts: readTimeouts(read, env),
    identity: {
      mode: read.oneOf('IDENTITY_MODE', ['lambda', 'local', 'off'], 'lambda'),
      lambdaEndpoint: read.url('LAMBDA_ENDPOINT', 'http://127.0.0.1:9001', ['http:', 'https:']),
      functionName: read.str('LAMBDA_FUNCTION_NAME', 'function'),
      region: read.str('AWS_REGION', 'us-east-1'),
      timeoutMs: read.int('IDENTITY_TIMEOUT_MS', env.IDENTITY_TIMEOUT_MS, 2000, 50, 60000),
      verdictCacheMaxSeconds: read.int('IDENTITY_CACHE_MAX_SECONDS', env.IDENTITY_CACHE_MAX_SECONDS, 300, 0, 86400),
      negativeVerdictSeconds: read.int('IDENTITY_NEGATIVE_CACHE_SECONDS', env.IDENTITY_NEGATIVE_CACHE_SECONDS, 5, 0, 3600),
      // One: the Lambda emulator panics on a second concurrent invoke. Raise it against AWS.
      maxInvokes: read.int('IDENTITY_MAX_INVOKES', env.IDENTITY_MAX_INVOKES, 1, 1, 1000),
      queuePerClient: read.int('IDENTITY_QUEUE_PER_CLIENT', env.IDENTITY_QUEUE_PER_CLIENT, 32, 1, 100_000),
      queueMax: read.int('IDENTITY_QUEUE_MAX', env.IDENTITY_QUEUE_MAX, 256, 1, 1_000_000)
    },
    token,
    buildCommit: read.str('BUILD_COMMIT', 'unknown'),
    tracing: {
      // Tracing is on when the OTEL_* settings ask for an exporter: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint.
      exporter: read.bool('OTEL_SDK_DISABLED', false)
        ? 'none'
        : read.oneOf('OTEL_TRACES_EXPORTER', ['otlp', 'none'],
          (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? '') !== '' ? 'otlp' : 'none'),
      serviceName: read.str('OTEL_SERVICE_NAME', 'postboard')
    }
  }
  if (config.identity.mode === 'local' && token.secret === '') throw new ConfigError(`TOKEN_SECRET: ${NO_SECRET} (IDENTITY_MODE=local verifies tokens itself)`)
  return config
}

const MAX_TIMEOUT_MS = IDEMPOTENCY_LEASE_MS / 2

function readTimeouts (read: Reader, env: Env): Timeouts {
  const ms = (name: string, fallback: number): number => read.int(name, env[name], fallback, 100, MAX_TIMEOUT_MS)
  const timeouts: Timeouts = {
    mongoSocketMs: ms('MONGODB_SOCKET_TIMEOUT_MS', 5000),
    mongoServerSelectionMs: ms('MONGODB_SERVER_SELECTION_TIMEOUT_MS', 3000),
    mongoConnectMs: ms('MONGODB_CONNECT_TIMEOUT_MS', 3000),
    redisCommandMs: ms('REDIS_COMMAND_TIMEOUT_MS', 1000),
    redisConnectMs: ms('REDIS_CONNECT_TIMEOUT_MS', 2000),
    kafkaRequestMs: ms('KAFKA_REQUEST_TIMEOUT_MS', 10_000),
    kafkaConnectionMs: ms('KAFKA_CONNECTION_TIMEOUT_MS', 3000),
    writeQueueMs: ms('WRITE_QUEUE_TIMEOUT_MS', 10_000)
  }
  // A write that starts its batch at the last moment still has its first store call to make: together they must end
  // before a retry could take its Idempotency-Key over.
  const { mongoSocketMs, mongoServerSelectionMs, mongoConnectMs, writeQueueMs } = timeouts
  const worst = writeQueueMs + mongoServerSelectionMs + mongoConnectMs + mongoSocketMs
  if (worst >= IDEMPOTENCY_LEASE_MS) {
    throw new ConfigError(`WRITE_QUEUE_TIMEOUT_MS: with the MONGODB_*_TIMEOUT_MS settings a write may run ${worst} ms, ` +
      `which must stay below the Idempotency-Key lease (${IDEMPOTENCY_LEASE_MS} ms)`)
  }
  return timeouts
}

/** Why there is no token secret, and how to get one. */
export const NO_SECRET = 'not set: give a secret of at least 32 characters (the local stack writes one per machine: npm run stack -- up)'

function parseRolesOrThrow (value: string): Set<Role> {
  try {
    return parseRoles(value)
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
}

/** Typed accessors that name the setting in every error. */
class Reader {
  constructor (private readonly env: Env, private readonly label: (name: string) => string) {}

  str (name: string, fallback: string): string {
    const v = this.env[name]
    if (v === undefined || v === '') return fallback
    return v
  }

  int (name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
    if (raw === undefined || raw === '') return fallback
    if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name}: expected a whole number from ${min} to ${max}, got '${raw}'`)
    const n = Number(raw)
    if (n < min || n > max) throw new ConfigError(`${name}: expected a whole number from ${min} to ${max}, got '${raw}'`)
    return n
  }

  bool (name: string, fallback: boolean): boolean {
    const v = this.env[name]
    if (v === undefined || v === '') return fallback
    if (['1', 'true', 'yes', 'on'].includes(v.toLowerCase())) return true
    if (['0', 'false', 'no', 'off'].includes(v.toLowerCase())) return false
    throw new ConfigError(`${name}: expected true or false, got '${v}'`)
  }

  oneOf<T extends string, F extends T | undefined = T> (name: string, allowed: readonly T[], fallback: F, given?: string): T | F {
    const v = given ?? this.env[name]
    if (v === undefined || v === '') return fallback
    if (!(allowed as readonly string[]).includes(v)) {
      throw new ConfigError(`${name}: expected one of ${allowed.join(', ')}, got '${v}'`)
    }
    return v as T
  }

  list (name: string, fallback: string): string[] {
    const items = this.str(name, fallback).split(',').map((s) => s.trim()).filter((s) => s !== '')
    for (const item of items) {
      if (!/^[^\s:/]+:\d{1,5}$/.test(item)) throw new ConfigError(`${name}: expected host:port[,host:port...], got '${item}'`)
    }
    if (items.length === 0) throw new ConfigError(`${name}: expected host:port[,host:port...], got nothing`)
    return items
  }

  url (name: string, fallback: string, protocols: string[]): string {
    const v = this.str(name, fallback)
    let parsed: URL
    try {
      parsed = new URL(v)
    } catch {
      throw new ConfigError(`${this.label(name)}: not a valid URL (${redact(v)})`)
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(`${this.label(name)}: expected a ${protocols.join(' or ')} URL, got ${redact(v)}`)
    }
    return v
  }
}

/**
 * Connection strings may carry passwords; errors and logs show them without (every URL in the text): `user:pass@`,
 * `:pass@` with no user (Redis's usual form), and a `password=` query parameter.
 */
export function redact (text: string): string {
  return text
    .replace(/\/\/([^:/@\s]*):[^@/\s]*@/g, '//$1:***@')
    .replace(/([?&]password=)[^&#\s]*/gi, '$1***')
}
