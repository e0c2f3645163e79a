// Dependency probes for readiness, each bounded in time, and the rule for what each role needs.
import type { FastifyInstance } from 'fastify'
import type { Admin } from 'kafkajs'
import type { Role } from '../roles.js'

type Dep = 'redis' | 'mongo' | 'kafka'
type Verdict = 'ok' | 'down'

/** What each role needs, and which of those it can run without (degraded). */
const NEEDS: Record<Role, { required: Dep[], optional: Dep[] }> = {
  read: { required: [], optional: ['redis', 'mongo'] }, // either one can answer (AP); both down is unavailable
  write: { required: ['mongo'], optional: ['kafka', 'redis'] }, // the relay publishes once Kafka is back
  consumer: { required: ['kafka', 'redis'], optional: [] }
}

const PROBE_TIMEOUT_MS = 1500

async function withTimeout (p: Promise<unknown>): Promise<Verdict> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Verdict>((resolve) => { timer = setTimeout(() => resolve('down'), PROBE_TIMEOUT_MS) })
  try {
    return await Promise.race([p.then(() => 'ok' as const, () => 'down' as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}

const admins = new WeakMap<FastifyInstance, Promise<Admin>>()

async function kafkaAdmin (app: FastifyInstance): Promise<Admin> {
  let admin = admins.get(app)
  if (admin === undefined) {
    const a = app.kafka.admin()
    admin = a.connect().then(() => a)
    admin.catch(() => admins.delete(app)) // a failed connect is retried on the next probe
    admins.set(app, admin)
    app.addHook('onClose', async () => { await (await admin)?.disconnect().catch(() => {}) })
  }
  return await admin
}

/** Opens the readiness admin connection early, so the first probe measures Kafka rather than a cold connect. */
export function warmKafkaProbe (app: FastifyInstance): void {
  kafkaAdmin(app).catch(() => {}) // down now: the probe reports it and reconnects later
}

const probes: Record<Dep, (app: FastifyInstance) => Promise<unknown>> = {
  redis: async (app) => await app.redis.ping(),
  mongo: async (app) => await app.mongo.db!.command({ ping: 1 }),
  kafka: async (app) => await (await kafkaAdmin(app)).describeCluster()
}

export async function checkDependencies (app: FastifyInstance): Promise<{
  status: 'ok' | 'degraded' | 'unavailable', roles: string[], checks: Record<string, Verdict>
}> {
  const roles = [...app.config.roles]
  const deps = new Set<Dep>(roles.flatMap((r) => [...NEEDS[r].required, ...NEEDS[r].optional]))
  const checks: Record<string, Verdict> = {}
  await Promise.all([...deps].map(async (d) => { checks[d] = await withTimeout(probes[d](app)) }))

  let status: 'ok' | 'degraded' | 'unavailable' = 'ok'
  for (const role of roles) {
    const { required, optional } = NEEDS[role]
    if (required.some((d) => checks[d] === 'down')) status = 'unavailable'
    else if (role === 'read' && optional.every((d) => checks[d] === 'down')) status = 'unavailable'
    else if (status === 'ok' && optional.some((d) => checks[d] === 'down')) status = 'degraded'
  }
  return { status, roles, checks }
}
