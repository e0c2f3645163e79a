// How postboard authenticates to Kafka, as managed services require: TLS (optionally with a client certificate)
// and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). Parsed at boot; key material is read from its files here, once.
import { readFileSync } from 'node:fs'

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const
export type SaslMechanism = typeof SASL_MECHANISMS[number]

export interface KafkaTls {
  /** PEM contents, not paths: a rotated file takes effect at the next start, never halfway through a run. */
  ca?: string
  cert?: string
  key?: string
}

export interface KafkaSecurity {
  /** false: plaintext. Otherwise TLS, trusting `ca` (else the system's CAs), presenting `cert`/`key` when given. */
  ssl: false | KafkaTls
  sasl?: { mechanism: SaslMechanism, username: string, password: string }
}

type Env = Record<string, string | undefined>
type Fail = (message: string) => Error

const set = (v: string | undefined): v is string => v !== undefined && v !== ''

const PEM = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  'private key': /-----BEGIN (RSA |EC )?PRIVATE KEY-----/
}

/** A PEM file's contents; it must hold a block of the given kind. */
function pem (env: Env, name: string, kind: keyof typeof PEM, fail: Fail): string {
  const path = env[name]!
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) { // readFileSync's errors always carry a code (ENOENT, EACCES, EISDIR...)
    throw fail(`${name}: cannot read ${path} (${String((err as NodeJS.ErrnoException).code)})`)
  }
  // kafkajs (Node's TLS) would need a passphrase, which no setting gives: refused here rather than at the handshake.
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) throw fail(`${name}: ${path} holds an encrypted private key; give it unencrypted`)
  if (!PEM[kind].test(text)) throw fail(`${name}: ${path} holds no PEM ${kind}`)
  return text
}

function tls (env: Env, bool: (name: string) => boolean, fail: Fail): false | KafkaTls {
  const paths = ['KAFKA_SSL_CA_PATH', 'KAFKA_SSL_CERT_PATH', 'KAFKA_SSL_KEY_PATH'].filter((n) => set(env[n]))
  if (!bool('KAFKA_SSL')) {
    if (paths.length > 0) throw fail(`${paths[0]}: set, but KAFKA_SSL is off; set KAFKA_SSL=true to connect over TLS`)
    return false
  }
  if (set(env.KAFKA_SSL_CERT_PATH) !== set(env.KAFKA_SSL_KEY_PATH)) {
    const [given, missing] = set(env.KAFKA_SSL_CERT_PATH) ? ['KAFKA_SSL_CERT_PATH', 'KAFKA_SSL_KEY_PATH'] : ['KAFKA_SSL_KEY_PATH', 'KAFKA_SSL_CERT_PATH']
    throw fail(`${missing}: required with ${given} (a client certificate needs its private key)`)
  }
  return {
    ...(set(env.KAFKA_SSL_CA_PATH) && { ca: pem(env, 'KAFKA_SSL_CA_PATH', 'certificate', fail) }),
    ...(set(env.KAFKA_SSL_CERT_PATH) && { cert: pem(env, 'KAFKA_SSL_CERT_PATH', 'certificate', fail) }),
    ...(set(env.KAFKA_SSL_KEY_PATH) && { key: pem(env, 'KAFKA_SSL_KEY_PATH', 'private key', fail) })
  }
}

function sasl (env: Env, oneOf: (name: string, allowed: readonly SaslMechanism[]) => SaslMechanism | undefined,
  label: (name: string) => string, fail: Fail): KafkaSecurity['sasl'] {
  const mechanism = oneOf('KAFKA_SASL_MECHANISM', SASL_MECHANISMS)
  if (mechanism === undefined) {
    const stray = ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'].find((n) => set(env[n]))
    if (stray !== undefined) throw fail(`${label(stray)}: set, but KAFKA_SASL_MECHANISM is not; give one of ${SASL_MECHANISMS.join(', ')}`)
    return undefined
  }
  for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']) {
    if (!set(env[name])) throw fail(`${name}: required with KAFKA_SASL_MECHANISM=${mechanism}`)
  }
  return { mechanism, username: env.KAFKA_SASL_USERNAME!, password: env.KAFKA_SASL_PASSWORD! }
}

export interface SecurityReader {
  env: Env
  bool: (name: string) => boolean
  oneOf: (name: string, allowed: readonly SaslMechanism[]) => SaslMechanism | undefined
  label: (name: string) => string
  fail: Fail
}

export function kafkaSecurity ({ env, bool, oneOf, label, fail }: SecurityReader): KafkaSecurity {
  const saslSettings = sasl(env, oneOf, label, fail)
  return { ssl: tls(env, bool, fail), ...(saslSettings !== undefined && { sasl: saslSettings }) }
}
