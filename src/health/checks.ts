// Dependency probes for readiness, each bounded in time, and the rule for what each role needs.
import type { FastifyInstance } from 'fastify'
import type { Admin, Kafka } from 'kafkajs'
import type { Role } from '../shared/roles.js'

type Dep = 'redis' | 'mongo' | 'kafka'
type Verdict = 'ok' | 'down'

/** What each role needs, and which of those it can run without (degraded). */
const NEEDS: Record<Role, { required: Dep[], optional: Dep[] }> = {
  read: { required: [], optional: ['redis', 'mongo'] }, // either one can answer (AP); both down is unavailable
  write: { required: ['mongo'], optional: ['kafka', 'redis'] }, // the relay publishes once Kafka is back
  consumer: { required: ['kafka', 'redis'], optional: [] }
}

/** What a role does while a dependency is down: the readiness body says it, so an operator sees the fallback. */
const EFFECT: Record<Role, Partial<Record<Dep, string>>> = {
  read: {
    redis: 'cache bypassed: reads are served from MongoDB',
    mongo: 'cached entities still answer; cache misses and post lists answer 503'
  },
  write: {
    mongo: 'writes cannot be stored; they answer 503',
    kafka: 'writes are stored and marked pending; the relay publishes them when Kafka is back',
    redis: 'writes still succeed; the cache is brought up to date from the events'
  },
  consumer: {
    kafka: 'no events can be consumed',
    redis: 'events cannot be applied; offsets stay uncommitted, so nothing is lost'
  }
}

const BOTH_DOWN = 'reads cannot be answered: neither the cache nor the store is reachable'

const PROBE_TIMEOUT_MS = 1500
const CLOSE_WAIT_MS = 3000

/** Waits for p to resolve or reject, or at most ms. */
async function settled (p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p.catch(() => {}), new Promise((resolve) => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

async function withTimeout (p: Promise<unknown>): Promise<Verdict> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Verdict>((resolve) => { timer = setTimeout(() => resolve('down'), PROBE_TIMEOUT_MS) })
  try {
    return await Promise.race([p.then(() => 'ok' as const, () => 'down' as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The readiness probe's own Kafka admin connection: opened early (so the first probe measures Kafka rather than a cold
 * connect), opened again on the next probe after a failure, and closed with the app without waiting for a connect.
 */
export class KafkaProbe {
  private admin: Admin | null = null
  private connected: Promise<Admin> | null = null

  constructor (private readonly kafka: Kafka) {}

  async describe (): Promise<unknown> {
    return await (await this.connect()).describeCluster()
  }

  /** Starts connecting now; an outage is reported by the probes, not here. */
  warm (): void {
    this.connect().catch(() => {})
  }

  async close (): Promise<void> {
    const { admin, connected } = this
    this.admin = null
    this.connected = null
    // kafkajs cannot abort a connect: disconnecting mid-connect leaves the socket it then opens holding the process
    // open. So let one in flight settle first (bounded: against a dead broker it only ends after its retries).
    if (connected !== null) await settled(connected, CLOSE_WAIT_MS)
    await admin?.disconnect().catch(() => {})
  }

  private async connect (): Promise<Admin> {
    if (this.connected === null) {
      const admin = this.kafka.admin()
      const connected = admin.connect().then(() => admin)
      connected.catch(() => { if (this.connected === connected) this.connected = null })
      this.admin = admin
      this.connected = connected
    }
    return await this.connected
  }
}

const probes: Record<Dep, (app: FastifyInstance, kafka: KafkaProbe | null) => Promise<unknown>> = {
  redis: async (app) => await app.redis.ping(),
  mongo: async (app) => await app.mongo.db!.command({ ping: 1 }),
  kafka: async (_app, kafka) => {
    // Unreachable: only roles with a Kafka client (write, consumer) list Kafka among their needs.
    /* c8 ignore next */
    if (kafka === null) throw new Error('no Kafka client in this role')
    return await kafka.describe()
  }
}

export interface Readiness {
  status: 'ok' | 'degraded' | 'unavailable'
  roles: string[]
  checks: Record<string, Verdict>
  /** Only for dependencies that are down: what each role does without them. */
  detail?: Record<string, string>
}

export async function checkDependencies (app: FastifyInstance, kafka: KafkaProbe | null): Promise<Readiness> {
  const roles = [...app.config.roles]
  const deps = new Set<Dep>(roles.flatMap((r) => [...NEEDS[r].required, ...NEEDS[r].optional]))
  const checks: Record<string, Verdict> = {}
  await Promise.all([...deps].map(async (d) => { checks[d] = await withTimeout(probes[d](app, kafka)) }))

  let status: 'ok' | 'degraded' | 'unavailable' = 'ok'
  for (const role of roles) {
    const { required, optional } = NEEDS[role]
    if (required.some((d) => checks[d] === 'down')) status = 'unavailable'
    // Both down under a read role: see BOTH_DOWN below for why no test reaches it.
    /* c8 ignore next */
    else if (role === 'read' && optional.every((d) => checks[d] === 'down')) status = 'unavailable'
    else if (status === 'ok' && optional.some((d) => checks[d] === 'down')) status = 'degraded'
  }
  const down = Object.keys(checks).filter((d) => checks[d] === 'down') as Dep[]
  if (down.length === 0) return { status, roles, checks }
  const detail = Object.fromEntries(down.map((d) => [d, roles.flatMap((r) => {
    // Both down under a read role needs MongoDB to fail after boot (boot needs it); no test stops it that late.
    /* c8 ignore next */
    const effect = r === 'read' && checks.redis === 'down' && checks.mongo === 'down' ? BOTH_DOWN : EFFECT[r][d]
    // A role that does not use the dependency (reads never touch Kafka) has nothing to say about it.
    return effect === undefined ? [] : [roles.length > 1 ? `${r}: ${effect}` : effect]
  }).join('; ')]))
  return { status, roles, checks, detail }
}
