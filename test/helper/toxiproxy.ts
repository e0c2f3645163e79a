// The fault-injecting proxy of the stack (stack/services/toxiproxy.sh), driven through its HTTP API: settings that put
// an app behind the proxies, toxics added for a test and always removed, and a reset to a clean proxy.
import type { Tap } from './app.js'

export type Proxied = 'redis' | 'mongo' | 'kafka'

const api = `http://127.0.0.1:${process.env.STACK_TOXIPROXY_PORT ?? 8474}`
const listen: Record<Proxied, string> = {
  redis: process.env.STACK_TOXIPROXY_REDIS_PORT ?? '16480',
  mongo: process.env.STACK_TOXIPROXY_MONGO_PORT ?? '16481',
  kafka: process.env.STACK_TOXIPROXY_KAFKA_PORT ?? '16482'
}

/** Settings (for build/testConfig's extra) that send all of an app's Redis, MongoDB and Kafka traffic through the proxies. */
export const proxiedEnv = {
  REDIS_URL: `redis://127.0.0.1:${listen.redis}`,
  MONGODB_URL: `mongodb://127.0.0.1:${listen.mongo}`,
  KAFKA_BROKERS: `127.0.0.1:${listen.kafka}`
}

/** A toxic as toxiproxy takes it: its type, the direction it acts on, and the type's attributes. */
export interface Toxic {
  type: 'latency' | 'timeout' | 'reset_peer' | 'slow_close' | 'bandwidth' | 'slicer' | 'limit_data'
  stream?: 'upstream' | 'downstream'
  attributes: Record<string, number>
}

async function request (method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${api}${path}`, {
    method,
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5000)
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${text}`)
  return text === '' ? null : JSON.parse(text)
}

/** Removes every toxic and re-enables every proxy. */
export async function resetProxies (): Promise<void> {
  await request('POST', '/reset')
}

/** Adds a toxic to a proxy; returns its name. */
export async function addToxic (proxy: Proxied, toxic: Toxic, name = `${toxic.type}_${toxic.stream ?? 'downstream'}`): Promise<string> {
  await request('POST', `/proxies/${proxy}/toxics`, { name, type: toxic.type, stream: toxic.stream ?? 'downstream', toxicity: 1, attributes: toxic.attributes })
  return name
}

export async function removeToxic (proxy: Proxied, name: string): Promise<void> {
  await request('DELETE', `/proxies/${proxy}/toxics/${name}`)
}

/** Starts a test from clean proxies and leaves them clean, whatever it did. */
export async function cleanProxies (t: Tap): Promise<void> {
  await resetProxies()
  t.teardown(resetProxies)
}
