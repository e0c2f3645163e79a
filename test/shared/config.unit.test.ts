// Configuration: defaults, flags over environment, and one clear message per bad value.
import t from 'tap'
import { ConfigError, IDEMPOTENCY_LEASE_MS, loadConfig, redact } from '../../src/shared/config.js'
import { parseRoles } from '../../src/shared/roles.js'
import { SECRET_FILE_SETTINGS } from '../../src/shared/secret-files.js'
import { readFileSync } from 'node:fs'

t.test('defaults point at the local stack', async (t) => {
  const c = loadConfig({}, {})
  t.same([...c.roles].sort(), ['consumer', 'read', 'write'])
  t.equal(c.port, 8080)
  t.equal(c.host, '127.0.0.1')
  t.equal(c.redisUrl, 'redis://127.0.0.1:6380')
  t.equal(c.mongoUrl, 'mongodb://127.0.0.1:27018')
  t.same(c.kafkaBrokers, ['127.0.0.1:9092'])
  t.equal(c.identity.lambdaEndpoint, 'http://127.0.0.1:9001')
  t.equal(c.cacheUpdate, 'events')
  t.equal(c.writeConnections, 'pooled')
  t.equal(c.writeBatchLingerMs, 2)
})

t.test('flags win over environment', async (t) => {
  const c = loadConfig({ role: 'read', port: '9000', cacheUpdate: 'write-through', writeConnections: 'per-request' },
    { ROLE: 'write', PORT: '1234', CACHE_UPDATE: 'events' })
  t.same([...c.roles], ['read'])
  t.equal(c.port, 9000)
  t.equal(c.cacheUpdate, 'write-through')
  t.equal(c.writeConnections, 'per-request')
})

t.test('roles: names, comma lists, all', async (t) => {
  t.same([...parseRoles('read,consumer')], ['read', 'consumer'])
  t.same([...parseRoles(' Write ')], ['write'])
  t.same([...parseRoles('all')].sort(), ['consumer', 'read', 'write'])
  t.throws(() => parseRoles('reader'), /unknown role 'reader'/)
  t.throws(() => parseRoles(','), /expected read, write, consumer or all/)
})

t.test('every bad setting names itself', async (t) => {
  const cases: Array<[Record<string, string>, RegExp, object?]> = [
    [{ PORT: 'abc' }, /^PORT: expected a whole number from 0 to 65535, got 'abc'$/],
    [{ PORT: '70000' }, /^PORT: /],
    [{}, /^--port: /, { port: '-1' }],
    [{ ROLE: 'bogus' }, /--role: unknown role 'bogus'/],
    [{ REDIS_URL: 'not a url' }, /^REDIS_URL: not a valid URL/],
    [{ REDIS_URL: 'http://x:1' }, /^REDIS_URL: expected a redis: or rediss: URL/],
    [{ MONGODB_URL: 'redis://x' }, /^MONGODB_URL: /],
    [{ KAFKA_BROKERS: 'localhost' }, /^KAFKA_BROKERS: expected host:port/],
    [{ KAFKA_BROKERS: ' , ' }, /^KAFKA_BROKERS: expected host:port\[,host:port...\], got nothing/],
    [{ CACHE_UPDATE: 'sometimes' }, /^CACHE_UPDATE: expected one of events, write-through, got 'sometimes'/],
    [{}, /^--write-connections: /, { writeConnections: 'lots' }],
    [{ AUTH_WRITES: 'maybe' }, /^AUTH_WRITES: expected true or false/],
    [{ IDENTITY_MODE: 'trust-me' }, /^IDENTITY_MODE: /],
    [{ TOKEN_SECRET: 'short' }, /^TOKEN_SECRET: must be at least 32 characters/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
    [{ TRUST_PROXY: 'true' }, /^TRUST_PROXY: expected addresses or CIDR ranges of the router \(or loopback, linklocal, uniquelocal\), comma-separated, got 'true'$/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /^TRUST_PROXY: .*got '10\.0\.0\.0\/33'$/],
    [{ TRUST_PROXY: '127.0.0.1, nginx' }, /^TRUST_PROXY: .*got 'nginx'$/],
    [{ WRITE_BATCH_LINGER_MS: '500' }, /^WRITE_BATCH_LINGER_MS: expected a whole number from 0 to 100, got '500'$/],
    [{ MONGODB_SOCKET_TIMEOUT_MS: '0' }, /^MONGODB_SOCKET_TIMEOUT_MS: expected a whole number from 100 to 30000/],
    [{ REDIS_COMMAND_TIMEOUT_MS: '60000' }, /^REDIS_COMMAND_TIMEOUT_MS: expected a whole number from 100 to 30000/],
    [{ KAFKA_REQUEST_TIMEOUT_MS: 'soon' }, /^KAFKA_REQUEST_TIMEOUT_MS: /],
    [{ WRITE_QUEUE_TIMEOUT_MS: '30000', MONGODB_SOCKET_TIMEOUT_MS: '30000' },
      /^WRITE_QUEUE_TIMEOUT_MS: with the MONGODB_\*_TIMEOUT_MS settings a write may run 66000 ms, which must stay below the Idempotency-Key lease \(60000 ms\)$/]
  ]
  for (const [env, message, flags] of cases) {
    t.throws(() => loadConfig(flags ?? {}, env), { constructor: ConfigError, message }, JSON.stringify({ env, flags }))
  }
})

t.test('every time limit has a default below the Idempotency-Key lease', async (t) => {
  const { timeouts } = loadConfig({}, {})
  t.same(timeouts, {
    mongoSocketMs: 5000,
    mongoServerSelectionMs: 3000,
    mongoConnectMs: 3000,
    redisCommandMs: 1000,
    redisConnectMs: 2000,
    kafkaRequestMs: 10_000,
    kafkaConnectionMs: 3000,
    writeQueueMs: 10_000
  })
  for (const [name, ms] of Object.entries(timeouts)) t.ok(ms < IDEMPOTENCY_LEASE_MS, `${name} (${ms} ms) is below the lease`)
  t.equal(loadConfig({}, { MONGODB_SOCKET_TIMEOUT_MS: '1500' }).timeouts.mongoSocketMs, 1500, 'each is a setting')
})

t.test('booleans and lists parse as people write them', async (t) => {
  t.equal(loadConfig({}, { AUTH_WRITES: 'yes' }).authWrites, true)
  t.equal(loadConfig({}, { AUTH_WRITES: '0' }).authWrites, false)
  t.equal(loadConfig({ authWrites: true }, { AUTH_WRITES: 'false' }).authWrites, true)
  t.same(loadConfig({}, { KAFKA_BROKERS: 'a:1, b:2' }).kafkaBrokers, ['a:1', 'b:2'])
  t.same(loadConfig({}, {}).trustProxy, [], 'no proxy is trusted by default')
  t.same(loadConfig({}, { TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,fd00::/8 , uniquelocal' }).trustProxy, ['127.0.0.1', '10.0.0.0/8', 'fd00::/8', 'uniquelocal'])
})

t.test('passwords never appear in messages', async (t) => {
  t.equal(redact('mongodb://admin:s3cret@db:27017/x'), 'mongodb://admin:***@db:27017/x')
  t.equal(redact('connect to redis://:s3cret@cache:6379/0 failed'), 'connect to redis://:***@cache:6379/0 failed', 'no user, the usual Redis form')
  t.equal(redact('rediss://default:s3cret@cache:6380'), 'rediss://default:***@cache:6380')
  t.equal(redact('mongodb://db/x?authSource=admin&password=s3cret&w=1'), 'mongodb://db/x?authSource=admin&password=***&w=1', 'a password in the query')
  t.equal(redact('redis://cache:6379'), 'redis://cache:6379', 'nothing to mask')
  const err = t.throws(() => loadConfig({}, { REDIS_URL: 'http://u:hunter2@h:1' })) as Error
  t.match(err.message, /^REDIS_URL: expected a redis: or rediss: URL, got http:\/\/u:\*\*\*@h:1$/)
})

t.test('the configuration table in docs/operations.md lists every variable the config reads', async (t) => {
  const root = new URL('../../', import.meta.url)
  const source = ['config.ts', 'kafka-security.ts', 'secret-files.ts']
    .map((f) => readFileSync(new URL(`src/shared/${f}`, root), 'utf8')).join('\n')
  const named = new Set([...source.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)].map((m) => m[1]!))
  for (const name of SECRET_FILE_SETTINGS) named.add(`${name}_FILE`)
  const table = readFileSync(new URL('docs/operations.md', root), 'utf8').split('\n').filter((l) => l.startsWith('| `'))
  t.ok(named.size > 40, `found the settings in the sources (${named.size})`)
  for (const name of named) t.ok(table.some((row) => row.includes(`\`${name}\``)), `${name} has a row`)
})

t.test('tracing is on only when the OTEL_* settings ask for an exporter; BUILD_COMMIT names the build', async (t) => {
  t.same(loadConfig({}, {}).tracing, { exporter: 'none', serviceName: 'postboard' }, 'off by default')
  t.equal(loadConfig({}, { OTEL_TRACES_EXPORTER: 'otlp' }).tracing.exporter, 'otlp')
  t.equal(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing.exporter, 'otlp', 'an endpoint asks for it')
  t.equal(loadConfig({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).tracing.exporter, 'otlp')
  t.equal(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing.exporter, 'none', 'none wins')
  t.equal(loadConfig({}, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }).tracing.exporter, 'none', 'the SDK switch wins')
  t.equal(loadConfig({}, { OTEL_SERVICE_NAME: 'pb-read' }).tracing.serviceName, 'pb-read')
  t.throws(() => loadConfig({}, { OTEL_TRACES_EXPORTER: 'jaeger' }), { message: /^OTEL_TRACES_EXPORTER/ })
  t.equal(loadConfig({}, {}).buildCommit, 'unknown')
  t.equal(loadConfig({}, { BUILD_COMMIT: 'abc123' }).buildCommit, 'abc123')
})
