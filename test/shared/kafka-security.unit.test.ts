// Kafka's TLS and SASL settings: what each combination gives the client, and one clear message per invalid one.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../../src/shared/config.js'
import { securityOptions } from '../../src/bus/kafka.js'

const dir = t.testdir({
  'ca.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  'client.crt': '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n',
  'client.key': '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
  'junk.txt': 'not a certificate\n',
  'encrypted.key': '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n'
})
const f = (name: string): string => join(dir, name)

t.test('nothing set: plaintext, no SASL, no kafkajs security options', async (t) => {
  const { kafkaSecurity } = loadConfig({}, {})
  t.same(kafkaSecurity, { ssl: false })
  t.same(securityOptions(kafkaSecurity), {})
})

t.test('KAFKA_SSL alone: TLS trusting the system CAs', async (t) => {
  const { kafkaSecurity } = loadConfig({}, { KAFKA_SSL: 'true' })
  t.same(kafkaSecurity, { ssl: {} })
  t.same(securityOptions(kafkaSecurity), { ssl: true })
})

t.test('KAFKA_SSL with CA, certificate and key: their contents, read at boot', async (t) => {
  const { kafkaSecurity } = loadConfig({}, { KAFKA_SSL: '1', KAFKA_SSL_CA_PATH: f('ca.pem'), KAFKA_SSL_CERT_PATH: f('client.crt'), KAFKA_SSL_KEY_PATH: f('client.key') })
  t.match(kafkaSecurity.ssl, { ca: /MIIB/, cert: /MIIC/, key: /MIIE/ })
  t.match(securityOptions(kafkaSecurity).ssl, { ca: /MIIB/, cert: /MIIC/, key: /MIIE/ })
})

t.test('each SASL mechanism, with its user and password', async (t) => {
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
    const { kafkaSecurity } = loadConfig({}, { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })
    t.same(kafkaSecurity.sasl, { mechanism, username: 'u', password: 'p' }, mechanism)
    t.same(securityOptions(kafkaSecurity).sasl, { mechanism, username: 'u', password: 'p' })
  }
  const both = loadConfig({}, { KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })
  t.same(securityOptions(both.kafkaSecurity), { ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } }, 'SASL over TLS')
})

t.test('invalid combinations fail at boot, naming the setting', async (t) => {
  const missing = join(dir, 'nope.pem')
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ KAFKA_SSL: 'sometimes' }, /^KAFKA_SSL: expected true or false, got 'sometimes'$/],
    [{ KAFKA_SSL_CA_PATH: f('ca.pem') }, /^KAFKA_SSL_CA_PATH: set, but KAFKA_SSL is off; set KAFKA_SSL=true/],
    [{ KAFKA_SSL: 'false', KAFKA_SSL_KEY_PATH: f('client.key') }, /^KAFKA_SSL_KEY_PATH: set, but KAFKA_SSL is off/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_PATH: missing }, new RegExp(`^KAFKA_SSL_CA_PATH: cannot read ${missing} \\(ENOENT\\)$`)],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_PATH: dir }, /^KAFKA_SSL_CA_PATH: cannot read .* \(EISDIR\)$/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_PATH: f('junk.txt') }, /^KAFKA_SSL_CA_PATH: .*junk\.txt holds no PEM certificate$/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CERT_PATH: f('client.crt') }, /^KAFKA_SSL_KEY_PATH: required with KAFKA_SSL_CERT_PATH/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_KEY_PATH: f('client.key') }, /^KAFKA_SSL_CERT_PATH: required with KAFKA_SSL_KEY_PATH/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CERT_PATH: f('client.crt'), KAFKA_SSL_KEY_PATH: f('client.crt') }, /^KAFKA_SSL_KEY_PATH: .* holds no PEM private key$/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CERT_PATH: f('client.crt'), KAFKA_SSL_KEY_PATH: f('encrypted.key') }, /^KAFKA_SSL_KEY_PATH: .*encrypted\.key holds an encrypted private key; give it unencrypted$/],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, /^KAFKA_SASL_MECHANISM: expected one of plain, scram-sha-256, scram-sha-512, got 'gssapi'$/],
    [{ KAFKA_SASL_MECHANISM: 'plain' }, /^KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM=plain$/],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' }, /^KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM=scram-sha-256$/],
    [{ KAFKA_SASL_USERNAME: 'u' }, /^KAFKA_SASL_USERNAME: set, but KAFKA_SASL_MECHANISM is not; give one of plain, scram-sha-256, scram-sha-512$/],
    [{ KAFKA_SASL_PASSWORD: 'p' }, /^KAFKA_SASL_PASSWORD: set, but KAFKA_SASL_MECHANISM is not/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig({}, env), { constructor: ConfigError, message }, JSON.stringify(env))
  }
})

t.test('no message shows the SASL password', async (t) => {
  const password = 'a-password-nobody-may-see'
  const passwordFile = join(dir, 'password')
  writeFileSync(passwordFile, `${password}\n`)
  for (const env of [{ KAFKA_SASL_PASSWORD: password }, { KAFKA_SASL_PASSWORD_FILE: passwordFile }]) {
    const err = (() => { try { loadConfig({}, env) } catch (e) { return e as Error } })()
    t.match(err?.message, /^KAFKA_SASL_PASSWORD( \(from KAFKA_SASL_PASSWORD_FILE\))?: set, but KAFKA_SASL_MECHANISM is not/)
    t.notOk(err?.message.includes(password), 'the message names the setting, not its value')
  }
})
