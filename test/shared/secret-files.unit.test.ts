// Secrets from files (NAME_FILE): read once at boot, a trailing line break dropped, and a clear message naming the
// setting for a file that cannot be read, an empty one, or one given together with the plain variable.
import t from 'tap'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../../src/shared/config.js'
import { SECRET_FILE_SETTINGS } from '../../src/shared/secret-files.js'

const SECRET = 'a-token-secret-from-a-file-of-48-characters-long'
const dir = t.testdir({
  'token-secret': `${SECRET}\n`,
  'redis-url': 'redis://:s3cret@cache.internal:6379\n',
  'mongodb-url': 'mongodb://app:pw@db.internal:27017/?authSource=admin',
  'kafka-password': 'kafka-pass\r\n',
  'short-secret': 'short\n',
  empty: '\n',
  'bad-url': 'redis://:hidden@\n'
})
const f = (name: string): string => join(dir, name)

t.test('each *_FILE gives its setting the file\'s content', async (t) => {
  t.same(SECRET_FILE_SETTINGS, ['TOKEN_SECRET', 'KAFKA_SASL_PASSWORD', 'REDIS_URL', 'MONGODB_URL'])
  const c = loadConfig({}, {
    TOKEN_SECRET_FILE: f('token-secret'),
    REDIS_URL_FILE: f('redis-url'),
    MONGODB_URL_FILE: f('mongodb-url'),
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'app',
    KAFKA_SASL_PASSWORD_FILE: f('kafka-password')
  })
  t.equal(c.token.secret, SECRET, 'the trailing line break is dropped')
  t.equal(c.redisUrl, 'redis://:s3cret@cache.internal:6379')
  t.equal(c.mongoUrl, 'mongodb://app:pw@db.internal:27017/?authSource=admin', 'a file without a line break is taken whole')
  t.equal(c.kafkaSecurity.sasl?.password, 'kafka-pass', 'a Windows line break too')
})

t.test('an unset or empty *_FILE leaves the plain variable (or the default) in charge', async (t) => {
  t.equal(loadConfig({}, { REDIS_URL_FILE: '', REDIS_URL: 'redis://r:1' }).redisUrl, 'redis://r:1')
  t.equal(loadConfig({}, {}).redisUrl, 'redis://127.0.0.1:6380')
})

t.test('bad files and combinations fail at boot, naming the setting and never the secret', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ TOKEN_SECRET_FILE: f('token-secret'), TOKEN_SECRET: SECRET }, /^TOKEN_SECRET_FILE: set together with TOKEN_SECRET; give one of the two$/],
    [{ REDIS_URL_FILE: f('redis-url'), REDIS_URL: 'redis://x:1' }, /^REDIS_URL_FILE: set together with REDIS_URL/],
    [{ MONGODB_URL_FILE: f('missing') }, /^MONGODB_URL_FILE: cannot read .*missing \(ENOENT\)$/],
    [{ KAFKA_SASL_PASSWORD_FILE: dir }, /^KAFKA_SASL_PASSWORD_FILE: cannot read .* \(EISDIR\)$/],
    [{ TOKEN_SECRET_FILE: f('empty') }, /^TOKEN_SECRET_FILE: .*empty is empty$/],
    [{ TOKEN_SECRET_FILE: f('short-secret') }, /^TOKEN_SECRET \(from TOKEN_SECRET_FILE\): must be at least 32 characters/],
    [{ REDIS_URL_FILE: f('bad-url') }, /^REDIS_URL \(from REDIS_URL_FILE\): not a valid URL \(redis:\/\/:\*\*\*@\)$/],
    [{ MONGODB_URL_FILE: f('redis-url') }, /^MONGODB_URL \(from MONGODB_URL_FILE\): expected a mongodb: or mongodb\+srv: URL, got redis:\/\/:\*\*\*@cache/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig({}, env), { constructor: ConfigError, message }, JSON.stringify(env))
  }
})
