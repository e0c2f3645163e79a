// Readiness: each dependency a process's roles use, probed within a bound, judged by the role manifest (which says
// what each role needs and what it does while a dependency is down).
import type { Admin, Kafka } from 'kafkajs'
import { ROLE_MANIFEST, type Dependency, type Role } from '../shared/roles.js'

type Verdict = 'ok' | 'down'

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

/** One probe per dependency the roles use: resolves when it answers. */
export type Probes = Partial<Record<Dependency, () => Promise<unknown>>>

export interface Readiness {
  status: 'ok' | 'degraded' | 'unavailable'
  roles: string[]
  checks: Record<string, Verdict>
  /** Only for dependencies that are down: what each role does without them. */
  detail?: Record<string, string>
}

export async function checkDependencies (roles: readonly Role[], probes: Probes): Promise<Readiness> {
  const deps = new Set<Dependency>(roles.flatMap((r) => Object.keys(ROLE_MANIFEST[r].needs) as Dependency[]))
  const checks: Record<string, Verdict> = {}
  await Promise.all([...deps].map(async (d) => {
    const probe = probes[d]
    // A dependency the manifest lists without a probe would be a wiring bug: it reads as down, never as ok.
    /* c8 ignore next */
    checks[d] = probe === undefined ? 'down' : await withTimeout(probe())
  }))

  let status: 'ok' | 'degraded' | 'unavailable' = 'ok'
  for (const role of roles) {
    const needs = Object.entries(ROLE_MANIFEST[role].needs) as Array<[Dependency, { required: boolean }]>
    const optional = needs.filter(([, n]) => !n.required).map(([d]) => d)
    if (needs.some(([d, n]) => n.required && checks[d] === 'down')) status = 'unavailable'
    // Both down under a read role: see BOTH_DOWN below for why no test reaches it.
    /* c8 ignore next */
    else if (role === 'read' && optional.every((d) => checks[d] === 'down')) status = 'unavailable'
    else if (status === 'ok' && optional.some((d) => checks[d] === 'down')) status = 'degraded'
  }
  const down = Object.keys(checks).filter((d) => checks[d] === 'down') as Dependency[]
  if (down.length === 0) return { status, roles: [...roles], checks }
  const detail = Object.fromEntries(down.map((d) => [d, roles.flatMap((r) => {
    // Both down under a read role needs MongoDB to fail after boot (boot needs it); no test stops it that late.
    /* c8 ignore next */
    const effect = r === 'read' && checks.redis === 'down' && checks.mongo === 'down' ? BOTH_DOWN : ROLE_MANIFEST[r].needs[d]?.whileDown
    // A role that does not use the dependency (reads never touch Kafka) has nothing to say about it.
    return effect === undefined ? [] : [roles.length > 1 ? `${r}: ${effect}` : effect]
  }).join('; ')]))
  return { status, roles: [...roles], checks, detail }
}
