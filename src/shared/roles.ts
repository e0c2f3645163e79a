// The roles one postboard process can run, parsed from `--role` (a name, a comma list, or `all`), and the role
// manifest: what each role starts and needs, as data. buildApp, the readiness checks, /metrics and the OpenAPI
// document all read ROLE_MANIFEST, so "what does --role=read start?" is one row of one table.
export const ROLES = ['read', 'write', 'consumer'] as const
export type Role = typeof ROLES[number]

/** The shared plugins a role can ask for, in the order buildApp registers them (each after what it depends on). */
const PLUGINS = ['redis', 'mongo-read', 'mongo-write', 'store', 'kafka', 'identity', 'near-cache', 'reads', 'writes', 'consumer'] as const
export type PluginName = typeof PLUGINS[number]

export type Dependency = 'redis' | 'mongo' | 'kafka'

export interface RoleSpec {
  /** Shared plugins this role registers (see PLUGINS for their order). */
  plugins: readonly PluginName[]
  /** Route plugins and their prefix; null for a role without HTTP routes of its own (the consumer). */
  routes: { prefix: string, tag: string, description: string } | null
  /**
   * Dependencies probed by /health/ready and what the role does while each is down. `required`: the role cannot
   * work (503); `optional`: it runs degraded (200). A dependency not listed is never connected to by this role.
   */
  needs: Partial<Record<Dependency, { required: boolean, whileDown: string }>>
  /** Name prefixes of the metric series this role moves; /metrics serves a series when one of its roles runs. */
  series: readonly string[]
  /** Whether the role's routes demand a token: always, only under --auth-writes, or never. */
  identity: 'always' | 'auth-writes' | 'never'
}

export const ROLE_MANIFEST: Readonly<Record<Role, RoleSpec>> = {
  read: {
    plugins: ['redis', 'mongo-read', 'store', 'identity', 'near-cache', 'reads'],
    routes: { prefix: '/get_server', tag: 'read', description: 'Read role (/get_server): cached reads; every call needs a bearer token' },
    needs: {
      // Either one can answer (AP); both down is unavailable (see checkDependencies).
      redis: { required: false, whileDown: 'cache bypassed: reads are served from MongoDB' },
      mongo: { required: false, whileDown: 'cached entities still answer; cache misses and post lists answer 503' }
    },
    series: ['pb_cache_lookups_', 'pb_cache_fills_', 'pb_singleflight_', 'pb_post_index_', 'pb_identity_'],
    identity: 'always'
  },
  write: {
    plugins: ['redis', 'mongo-write', 'store', 'kafka', 'identity', 'writes'],
    routes: { prefix: '/post_server', tag: 'write', description: 'Write role (/post_server): creates and reactions' },
    needs: {
      mongo: { required: true, whileDown: 'writes cannot be stored; they answer 503' },
      kafka: { required: false, whileDown: 'writes are stored and marked pending; the relay publishes them when Kafka is back' },
      redis: { required: false, whileDown: 'writes still succeed; the cache is brought up to date from the events' }
    },
    series: ['pb_events_published_', 'pb_producer_errors_', 'pb_outbox_', 'pb_idempotent_', 'pb_identity_'],
    identity: 'auth-writes'
  },
  consumer: {
    plugins: ['redis', 'kafka', 'consumer'],
    routes: null,
    needs: {
      kafka: { required: true, whileDown: 'no events can be consumed' },
      redis: { required: true, whileDown: 'events cannot be applied; offsets stay uncommitted, so nothing is lost' }
    },
    series: ['pb_consumer_', 'pb_dlq_', 'pb_post_index_'],
    identity: 'never'
  }
}

/** The shared plugins a set of roles registers, in registration order. */
export function pluginsFor (roles: ReadonlySet<Role>): PluginName[] {
  const wanted = new Set([...roles].flatMap((r) => ROLE_MANIFEST[r].plugins))
  return PLUGINS.filter((p) => wanted.has(p))
}

/** Whether any of the roles uses a dependency (and so connects to it). */
export function usesDependency (roles: ReadonlySet<Role>, dep: Dependency): boolean {
  return [...roles].some((r) => ROLE_MANIFEST[r].needs[dep] !== undefined)
}

/** Whether any of the roles checks tokens, given --auth-writes: only then does the process get a verifier. */
export function checksIdentity (roles: ReadonlySet<Role>, authWrites: boolean): boolean {
  return [...roles].some((r) => ROLE_MANIFEST[r].identity === 'always' || (authWrites && ROLE_MANIFEST[r].identity === 'auth-writes'))
}

/** The role whose routes live under a url's prefix (the manifest's `routes.prefix`); undefined for health, metrics, docs. */
export function routeRole (url: string): Role | undefined {
  return ROLES.find((r) => { const prefix = ROLE_MANIFEST[r].routes?.prefix; return prefix !== undefined && url.startsWith(`${prefix}/`) })
}

/** The roles that own a metric series (by name prefix); none for the series every role serves (HTTP, latency). */
export function seriesOwners (name: string): Role[] {
  return ROLES.filter((r) => ROLE_MANIFEST[r].series.some((prefix) => name.startsWith(prefix)))
}

export function parseRoles (value: string): Set<Role> {
  const names = value.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
  if (names.length === 0) throw new Error(`--role: expected read, write, consumer or all, got '${value}'`)
  const roles = new Set<Role>()
  for (const name of names) {
    if (name === 'all') {
      for (const r of ROLES) roles.add(r)
    } else if ((ROLES as readonly string[]).includes(name)) {
      roles.add(name as Role)
    } else {
      throw new Error(`--role: unknown role '${name}' (expected read, write, consumer or all, or a comma list)`)
    }
  }
  return roles
}
