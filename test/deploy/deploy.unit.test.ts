// The deployment files, checked by structure (no Docker engine runs on our machines): compose.yaml against the
// Compose specification's JSON schema, its services, roles, replicas, start order, wiring, secrets, users and
// resource limits; the router's two locations; and that every Dockerfile stage names real files, stages and npm
// scripts.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { ROOT } from '../helper/index.js'
import { loadConfig } from '../../src/shared/config.js'
import { SHUTDOWN_GRACE_MS } from '../../src/server.js'
import { composeCounts, composeFlags, plan, ROLES as CLUSTER_ROLES } from '../../stack/cluster/plan.js'
import { routerConfig } from '../../stack/cluster/router.js'

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8')
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>, bin: { postboard: string } }

/** The assertions a helper needs, from whichever (sub)test calls it. */
type Assert = Pick<typeof t, 'ok' | 'notOk' | 'match'>

// ---- Dockerfiles -------------------------------------------------------------------------------------------------

interface Instruction { op: string, args: string }
interface Stage { name: string, base: string, steps: Instruction[] }

function parseDockerfile (file: string): Stage[] {
  const text = read(file).replace(/\\\n/g, ' ') // continuation lines
  const args: Record<string, string> = {}
  const stages: Stage[] = []
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    const upper = op.toUpperCase()
    if (upper === 'ARG' && stages.length === 0) {
      const [name = '', value = ''] = rest.split('=')
      args[name] = value
    } else if (upper === 'FROM') {
      const expanded = rest.replace(/\$\{(\w+)\}/g, (_m, name: string) => args[name] ?? '')
      const [, base = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(expanded) ?? []
      stages.push({ name, base, steps: [] })
    } else {
      stages.at(-1)?.steps.push({ op: upper, args: rest })
    }
  }
  return stages
}

/** COPY's flags and its sources (all words but the last, which is the destination). */
function copyParts (args: string): { from?: string, sources: string[] } {
  const words = args.split(/\s+/)
  const flags = words.filter((w) => w.startsWith('--'))
  const rest = words.filter((w) => !w.startsWith('--'))
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length)
  return { ...(from !== undefined && { from }), sources: rest.slice(0, -1) }
}

const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))

function excluded (path: string): boolean {
  const clean = path.replace(/^\.\//, '').replace(/\/$/, '')
  return ignored.some((p) => clean === p || clean.startsWith(`${p}/`))
}

function checkDockerfile (t: Assert, file: string): Stage[] {
  const stages = parseDockerfile(file)
  t.ok(stages.length >= 2, `${file} is multi-stage`)
  const seen = new Set<string>()
  for (const stage of stages) {
    for (const step of stage.steps) {
      if (step.op === 'COPY') {
        const { from, sources } = copyParts(step.args)
        if (from !== undefined) {
          t.ok(seen.has(from), `${file}: COPY --from=${from} names an earlier stage`)
          continue
        }
        for (const source of sources) {
          t.ok(existsSync(join(ROOT, source)), `${file}: COPY ${source} exists in the build context`)
          t.notOk(excluded(source), `${file}: COPY ${source} is not excluded by .dockerignore`)
        }
      }
      if (step.op === 'RUN') {
        for (const [, script] of step.args.matchAll(/npm run ([\w:-]+)/g)) {
          t.ok(pkg.scripts[script!] !== undefined, `${file}: npm run ${script} is a package.json script`)
        }
      }
    }
    if (stage.name !== '') seen.add(stage.name)
  }
  return stages
}

/** The stage that provides the final stage's node_modules must have installed production dependencies only. */
function checkProductionDeps (t: Assert, file: string, stages: Stage[]): void {
  const final = stages.at(-1)!
  const copy = final.steps.find((s) => s.op === 'COPY' && copyParts(s.args).sources.some((x) => x.endsWith('/node_modules')))
  t.ok(copy, `${file}: the final stage copies node_modules from a build stage`)
  const source = stages.find((s) => s.name === copyParts(copy!.args).from)
  const installs = source!.steps.filter((s) => s.op === 'RUN').map((s) => s.args).join(' && ')
  t.match(installs, /npm (ci|prune) [^&]*--omit=dev/, `${file}: stage ${source!.name} keeps production dependencies only`)
}

t.test('Dockerfile: multi-stage, real files, production dependencies, non-root, postboard entrypoint, healthcheck', async (t) => {
  const stages = checkDockerfile(t, 'Dockerfile')
  checkProductionDeps(t, 'Dockerfile', stages)
  const final = stages.at(-1)!
  const step = (op: string): string[] => final.steps.filter((s) => s.op === op).map((s) => s.args)

  const build = stages.find((s) => s.steps.some((x) => x.op === 'RUN' && /npm run build/.test(x.args)))!
  const copied = build.steps.filter((s) => s.op === 'COPY').flatMap((s) => copyParts(s.args).sources)
  const buildConfig = JSON.parse(read('tsconfig.build.json')) as { include: string[] }
  for (const dir of buildConfig.include) t.ok(copied.includes(dir), `the build stage copies ${dir}/, which tsconfig.build.json compiles`)
  for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
    t.ok(copied.includes(file), `the build stage copies ${file}`)
  }

  t.ok(step('USER').length > 0 && step('USER').every((u) => /^[1-9]\d*(:\d+)?$/.test(u)), 'runs as a numeric non-root user')
  t.match(step('ENV').join(' '), /\bHOST=0\.0\.0\.0\b/, 'HOST=0.0.0.0 so the container listens beyond its loopback')
  t.same(JSON.parse(step('ENTRYPOINT')[0]!), ['postboard'], 'postboard is the entrypoint')
  t.same(JSON.parse(step('CMD')[0]!), [], 'no default arguments: the role comes from the command or ROLE')
  const link = /ln -s \/app\/(\S+) \/usr\/local\/bin\/postboard/.exec(step('RUN').join(' '))
  t.equal(link?.[1], pkg.bin.postboard, 'the postboard command is the package\'s bin')
  t.ok(existsSync(join(ROOT, pkg.bin.postboard.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), 'whose source exists')
  t.match(step('HEALTHCHECK').join(' '), /\/health\/ready/, 'HEALTHCHECK probes readiness')
})

t.test('deploy/identity.Dockerfile: the Lambda base image runs the project\'s bundled handler', async (t) => {
  const stages = checkDockerfile(t, 'deploy/identity.Dockerfile')
  const final = stages.at(-1)!
  t.match(final.base, /^public\.ecr\.aws\/lambda\/nodejs:\d+$/, 'the AWS Lambda base image for Node.js')
  // The bundle package:lambda writes is what the final stage copies, and all it copies.
  const script = pkg.scripts['package:lambda'] ?? ''
  const [, entry = '', outfile = ''] = /esbuild (\S+) .*--bundle.*--outfile=(\S+)/.exec(script) ?? []
  t.equal(entry, 'src/identity/handler.ts', 'package:lambda bundles the handler')
  const copies = final.steps.filter((s) => s.op === 'COPY').map((s) => copyParts(s.args))
  t.same(copies.map((c) => c.sources), [[`/app/${outfile}`]], 'the final stage copies the bundle alone (no node_modules)')
  t.ok(stages.some((s) => s.name === copies[0]?.from && s.steps.some((x) => x.op === 'RUN' && x.args.includes('npm run package:lambda'))),
    'from the stage that runs package:lambda')
  // Lambda's handler setting is <file without extension>.<export>, relative to the task root.
  const [handler = ''] = JSON.parse(final.steps.find((s) => s.op === 'CMD')!.args) as string[]
  const dot = handler.lastIndexOf('.')
  t.equal(handler.slice(0, dot), outfile.replace(/^.*\//, '').replace(/\.m?js$/, ''), 'CMD names the bundle file')
  // It loads with key material only (there is no fallback secret), as the deployed function is given.
  process.env.TOKEN_SECRET = 'an-operator-chosen-secret-of-at-least-32-chars'
  t.teardown(() => { delete process.env.TOKEN_SECRET })
  const mod = await import(join(ROOT, entry)) as Record<string, unknown>
  t.type(mod[handler.slice(dot + 1)], 'function', `whose entry exports ${handler.slice(dot + 1)}`)
})

t.test('.dockerignore keeps host build output and state out of the context', async (t) => {
  for (const entry of ['node_modules', 'dist', '.git', '.stack', 'coverage']) t.ok(ignored.includes(entry), entry)
  t.ok(ignored.every((p) => /^[\w.-]+$/.test(p)), 'plain names only (what excluded() above understands)')
})

// ---- compose.yaml ------------------------------------------------------------------------------------------------

interface Service {
  image?: string
  build?: { context: string, dockerfile: string }
  command?: string[] | string
  deploy?: { replicas?: number, resources?: { limits?: { cpus?: string, memory?: string } } }
  depends_on?: Record<string, { condition: string }>
  environment?: Record<string, string>
  healthcheck?: { test: string[] }
  ports?: string[]
  volumes?: string[]
  restart?: string
  stop_grace_period?: string
  secrets?: string[]
  user?: string
}
const composeText = read('compose.yaml')
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service>, secrets?: Record<string, { environment?: string, file?: string }> }
const services = compose.services

// ---- the Compose specification's JSON schema ---------------------------------------------------------------------

// The specification's schema as the dclint package ships it (the npm registry has no package of the specification
// itself with a current schema). It declares draft-07 by its https address; Ajv knows draft-07 by its http one.
const require = createRequire(import.meta.url)
const composeSchema = JSON.parse(readFileSync(join(dirname(require.resolve('dclint/package.json')), 'schemas/compose.schema.json'), 'utf8')) as Record<string, unknown>
// strictTypes is about how the schema is written (union types without `type: object`), not what it accepts.
const validateCompose = new Ajv({ allErrors: true, allowUnionTypes: true, strictTypes: false })
  .compile({ ...composeSchema, $schema: 'http://json-schema.org/draft-07/schema#' })

t.test('compose.yaml is valid against the Compose specification\'s JSON schema', async (t) => {
  t.equal(composeSchema.title, 'Compose Specification')
  const valid = validateCompose(compose)
  t.ok(valid, 'compose.yaml validates')
  t.same(validateCompose.errors ?? [], [], 'no schema errors')
  // The schema does reject what compose would: a replica count that is not a number, an unknown service key.
  const broken = structuredClone(compose) as { services: Record<string, Record<string, unknown>> }
  broken.services.read!.deploy = { replicas: [2] }
  broken.services.write!.replica = 1
  t.notOk(validateCompose(broken), 'a broken copy does not validate')
  t.ok(validateCompose.errors?.some((e) => e.instancePath === '/services/read/deploy/replicas'), 'replicas: a list, not a number')
  t.ok(validateCompose.errors?.some((e) => e.instancePath === '/services/write' && e.params.additionalProperty === 'replica'), 'replica: unknown key')
})

// ---- .env.example and the secrets ----------------------------------------------------------------------------------

/** .env.example's assignments (what `cp .env.example .env` gives compose). */
const dotenv = Object.fromEntries(read('.env.example').split('\n').map((l) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l.trim())).filter((m) => m !== null).map((m) => [m[1]!, m[2]!]))
/** What an operator must add to .env.example's values: the one setting without a default. */
const OPERATOR: Record<string, string> = { ...dotenv, TOKEN_SECRET: 'an-operator-chosen-secret-of-at-least-32-chars' }

// Each secret, as compose would write it into /run/secrets/<name>, here in a folder of the test's own.
const secretDir = t.testdir(Object.fromEntries(Object.entries(compose.secrets ?? {}).map(([name, s]) => [name, OPERATOR[s.environment ?? ''] ?? ''])))

/** Compose's ${VAR:-default} as on a fresh machine given .env.example; /run/secrets/<name> as the test's copy. */
const expand = (v: string): string => v
  .replace(/\$\{\w+:-([^}]*)\}/g, '$1')
  .replace(/\$\{(\w+):\?[^}]*\}/g, (_m, name: string) => OPERATOR[name] ?? '')
  .replace(/^\/run\/secrets\/([\w-]+)$/, (_m, name: string) => join(secretDir, name))
const env = (s: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, expand(String(v))]))

t.test('.env.example: every variable compose reads, no secret values; .env is kept out of git and images', async (t) => {
  const used = new Set([...composeText.matchAll(/\$\{(\w+)[:}]/g)].map((m) => m[1]!))
  for (const s of Object.values(compose.secrets ?? {})) if (s.environment !== undefined) used.add(s.environment)
  for (const name of used) t.ok(name in dotenv, `.env.example lists ${name}`)
  t.equal(dotenv.TOKEN_SECRET, '', 'TOKEN_SECRET is left for the operator to fill in')
  t.ok(read('.gitignore').split('\n').includes('.env'), '.env is git-ignored')
  t.ok(ignored.includes('.env'), '.env is not sent to the image build')
})

t.test('compose.yaml: secrets reach the containers as files, read through the *_FILE settings', async (t) => {
  const SECRET_SETTINGS = ['TOKEN_SECRET', 'KAFKA_SASL_PASSWORD', 'REDIS_URL', 'MONGODB_URL']
  for (const [name, s] of Object.entries(services)) {
    for (const setting of SECRET_SETTINGS) t.notOk(s.environment?.[setting] !== undefined, `${name}: ${setting} is not an environment variable`)
    for (const [key, value] of Object.entries(s.environment ?? {}).filter(([k]) => k.endsWith('_FILE'))) {
      const [, secret] = /^\/run\/secrets\/([\w-]+)$/.exec(String(value)) ?? []
      t.ok(secret !== undefined && s.secrets?.includes(secret), `${name}: ${key} is a secret the service is given`)
      t.ok(compose.secrets?.[secret!] !== undefined, `${name}: ${key}'s secret is defined`)
    }
  }
})

t.test('compose.yaml: one Kafka version everywhere, a fixed cluster id', async (t) => {
  const pom = read('stack/kafka/pom.xml')
  const [, version = ''] = /<artifactId>kafka_2\.13<\/artifactId>\s*<version>([^<]+)<\/version>/.exec(pom) ?? []
  t.equal(version, '3.9.1', 'the local stack\'s broker (stack/kafka/pom.xml)')
  t.match(read('stack/services/kafka.sh'), new RegExp(`^KAFKA_VERSION=${version.replace(/\./g, '\\.')}$`, 'm'), 'stack/services/kafka.sh names it')
  const kafkaImages = Object.entries(services).filter(([, s]) => s.image?.startsWith('apache/kafka'))
  t.ok(kafkaImages.length >= 2, 'the broker and the topic set-up')
  for (const [name, s] of kafkaImages) t.equal(s.image, `apache/kafka:${version}`, `${name} runs Kafka ${version}`)
  t.match(read('docs/operations.md'), new RegExp(`apache/kafka:${version.replace(/\./g, '\\.')}`), 'docs/operations.md names the same image')
  t.match(env(services.kafka!).CLUSTER_ID, /^[A-Za-z0-9_-]{22}$/, 'a fixed CLUSTER_ID (a base64url UUID), not one minted per container')
})

/** Bytes in a compose or JVM size (512M, 1G, 512m, 768mb). */
function bytes (size: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg])?b?$/i.exec(size.trim())
  if (m === null) throw new Error(`not a size: ${size}`)
  return Number(m[1]) * 1024 ** ({ k: 1, m: 2, g: 3 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 0)
}

t.test('compose.yaml: every service capped in CPU and memory, each heap inside its cap; the app as a numeric non-root user', async (t) => {
  const dockerUser = parseDockerfile('Dockerfile').at(-1)!.steps.filter((s) => s.op === 'USER').at(-1)?.args
  for (const [name, s] of Object.entries(services)) {
    const limits = s.deploy?.resources?.limits
    t.ok(limits?.cpus !== undefined && Number(limits.cpus) > 0, `${name}: a CPU limit`)
    t.ok(limits?.memory !== undefined && bytes(limits.memory) > 0, `${name}: a memory limit`)
    const cap = bytes(limits?.memory ?? '0')
    const e = env(s)
    const command = Array.isArray(s.command) ? s.command : []
    const heaps = [
      /-Xmx(\S+)/.exec(e.KAFKA_HEAP_OPTS ?? '')?.[1],
      /--max-old-space-size=(\d+)/.exec(e.NODE_OPTIONS ?? '')?.[1]?.concat('m'),
      command.includes('--maxmemory') ? command[command.indexOf('--maxmemory') + 1] : undefined,
      command.includes('--wiredTigerCacheSizeGB') ? `${command[command.indexOf('--wiredTigerCacheSizeGB') + 1]}g` : undefined
    ].filter((h) => h !== undefined)
    for (const heap of heaps) t.ok(bytes(heap) < cap, `${name}: its heap (${heap}) fits its cap (${limits?.memory})`)
    if (s.build?.dockerfile === 'Dockerfile') {
      t.match(s.user, /^[1-9]\d*(:\d+)?$/, `${name}: a numeric non-root user`)
      t.equal(s.user, dockerUser, `${name}: the image's own USER`)
      t.ok(heaps.length > 0, `${name}: a V8 heap limit`)
    }
  }
  t.ok(env(services.kafka!).KAFKA_HEAP_OPTS !== undefined, 'the broker\'s heap is set')
  t.ok(services.mongo?.command?.includes('--wiredTigerCacheSizeGB'), 'MongoDB\'s cache is set (half the host\'s memory otherwise)')
})

t.test('compose.yaml: the dependencies on the images the design names', async (t) => {
  t.equal(services.mongo?.image, 'mongo:7')
  t.equal(services.redis?.image, 'redis:7')
  t.match(env(services.kafka!).KAFKA_PROCESS_ROLES, /broker,controller/, 'KRaft: no ZooKeeper')
  t.equal(services.identity?.build?.dockerfile, 'deploy/identity.Dockerfile')
  t.ok(existsSync(join(ROOT, services.identity!.build!.dockerfile)))
})

t.test('compose.yaml: each role from the postboard image, with its replicas and a command naming it', async (t) => {
  const replicas = { read: 2, write: 1, consumer: 2 }
  for (const [role, count] of Object.entries(replicas)) {
    const s = services[role]!
    t.equal(s.build?.dockerfile, 'Dockerfile', `${role} is built from the Dockerfile`)
    t.equal(s.build?.context, '.')
    const command = Array.isArray(s.command) ? s.command.join(' ') : s.command ?? ''
    t.match(command, new RegExp(`--role[= ]${role}(\\s|$)`), `${role}'s command names its role`)
    t.equal(/(^|\s)--auth-writes(\s|$)/.test(command), role === 'write', `${role}: --auth-writes ${role === 'write' ? 'on' : 'off (reads always check tokens)'}`)
    if (role === 'write') t.ok(s.depends_on?.identity !== undefined, 'write waits for the identity function it now calls')
    t.equal(s.deploy?.replicas, count, `${role}: ${count} replica(s)`)
    t.ok(Number.parseInt(s.stop_grace_period ?? '10') * 1000 > SHUTDOWN_GRACE_MS, `${role} is given longer than the shutdown grace`)
    // The environment, with its secret files, is one the app accepts: loadConfig is the validation the container
    // runs at boot.
    const config = loadConfig({ role }, env(s))
    t.equal(new URL(config.redisUrl).hostname, 'redis')
    t.equal(new URL(config.mongoUrl).hostname, 'mongo')
    t.same(config.kafkaBrokers, ['kafka:9092'])
    t.equal(new URL(config.identity.lambdaEndpoint).hostname, 'identity')
    t.equal(config.token.secret, OPERATOR.TOKEN_SECRET, 'the token secret, from its secret file')
    t.equal(env(services.identity!).TOKEN_SECRET_FILE, env(s).TOKEN_SECRET_FILE, 'the app and the validator share the token secret')
    t.ok(config.topicPartitions >= count, 'no more consumers than partitions')
  }
})

t.test('compose.yaml: healthchecks and depends_on conditions start everything in order', async (t) => {
  const imageHealthcheck = read('Dockerfile').includes('HEALTHCHECK')
  const healthy = (name: string): boolean =>
    services[name]?.healthcheck !== undefined || (services[name]?.build?.dockerfile === 'Dockerfile' && imageHealthcheck)
  for (const [name, s] of Object.entries(services)) {
    if (s.restart !== 'no') t.ok(healthy(name), `${name} has a healthcheck`)
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      t.ok(services[dep] !== undefined, `${name} depends on a real service (${dep})`)
      if (condition === 'service_healthy') t.ok(healthy(dep), `${name} waits for ${dep}'s healthcheck`)
      else t.equal(condition, 'service_completed_successfully', `${name} waits for the one-shot ${dep}`)
    }
  }
  const order: string[] = []
  const visit = (name: string, path: string[]): void => {
    if (path.includes(name)) throw new Error(`depends_on cycle: ${[...path, name].join(' -> ')}`)
    if (order.includes(name)) return
    for (const dep of Object.keys(services[name]?.depends_on ?? {})) visit(dep, [...path, name])
    order.push(name)
  }
  for (const name of Object.keys(services)) visit(name, [])
  const before = (a: string, b: string): boolean => order.indexOf(a) < order.indexOf(b)
  t.ok(before('read', 'router') && before('write', 'router'), 'the router starts after the roles it routes to')
  t.ok(before('identity', 'read'), 'reads start after the identity validator')
  t.ok(before('kafka-init', 'consumer') && before('kafka-init', 'write'), 'topics exist before producers and consumers')
  t.ok(before('mongo', 'read') && before('redis', 'consumer'), 'data stores first')

  const init = services['kafka-init']!
  const script = Array.isArray(init.command) ? init.command.join('\n') : init.command ?? ''
  const app = loadConfig({}, env(services.consumer!))
  for (const topic of [app.eventsTopic, app.dlqTopic]) t.ok(script.includes(topic), `kafka-init creates ${topic}`)
  t.match(script, new RegExp(`--partitions ${app.topicPartitions}\\b`), 'with the partitions the app expects')
})

// ---- the router --------------------------------------------------------------------------------------------------

t.test('the router: :8080, /get_server to the read replicas, /post_server to the write role', async (t) => {
  const router = services.router!
  t.match(router.image, /^nginx:/)
  t.ok(router.ports?.some((p) => /^(\d+\.\d+\.\d+\.\d+:)?8080:8080$/.test(String(p))), 'published on :8080')
  const mount = router.volumes?.find((v) => v.includes('/etc/nginx/'))
  t.ok(mount, 'mounts its configuration')
  const [source] = mount!.split(':')
  t.equal(source, './deploy/nginx.conf')

  const conf = read('deploy/nginx.conf').replace(/#.*$/gm, '')
  t.match(conf, /listen\s+8080;/)
  const blocks = (kind: string): Map<string, string> =>
    new Map([...conf.matchAll(new RegExp(`${kind}\\s+(\\S+)\\s*\\{([^}]*)\\}`, 'g'))].map((m) => [m[1]!, m[2]!]))
  const locations = blocks('location')
  const upstreams = blocks('upstream')
  const port = env(services.read!).PORT
  for (const [prefix, role] of [['/get_server/', 'read'], ['/post_server/', 'write']] as const) {
    const body = locations.get(prefix)
    t.ok(body, `a location for ${prefix}`)
    const pool = /proxy_pass\s+http:\/\/([\w-]+)\s*;/.exec(body!)?.[1]
    t.ok(pool !== undefined && upstreams.has(pool), `${prefix} proxies to an upstream`)
    t.match(upstreams.get(pool!), new RegExp(`server\\s+${role}:${port}\\b`), `${prefix} reaches the ${role} service on its port`)
  }
  t.match(conf, /proxy_set_header\s+X-Request-Id/, 'a request id follows each request to the app')
})

// ---- the cluster on one machine ----------------------------------------------------------------------------------

t.test('npm run cluster runs what compose runs: the same roles, flags, replica counts and routing file', async (t) => {
  const appServices = Object.entries(services).filter(([, s]) => s.build?.dockerfile === 'Dockerfile').map(([name]) => name)
  t.same([...appServices].sort(), [...CLUSTER_ROLES].sort(), 'compose\'s postboard services are the cluster\'s roles')
  t.same(composeCounts(ROOT), Object.fromEntries(CLUSTER_ROLES.map((r) => [r, services[r]!.deploy?.replicas ?? 1])), 'replica counts from compose.yaml')
  const flags = composeFlags(ROOT)
  for (const role of CLUSTER_ROLES) {
    t.same([`--role=${role}`, ...flags[role]], services[role]!.command, `${role}: compose's command, flags and all`)
  }
  t.same(flags.write, ['--auth-writes'], 'so the cluster\'s write replicas require a token, as compose\'s do')
  t.ok(plan(18080, composeCounts(ROOT), flags).filter((r) => r.role === 'write').every((r) => r.flags?.includes('--auth-writes')), 'on every write replica')
  // The cluster's router rewrites deploy/nginx.conf (stack/cluster/router.ts): the very file compose mounts.
  const [mounted = ''] = services.router!.volumes!.find((v) => v.includes('/etc/nginx/'))!.split(':')
  const replicas = plan(18080, composeCounts(ROOT))
  const conf = routerConfig(read(mounted), 18080, replicas)
  for (const r of replicas.filter((x) => x.role !== 'consumer')) t.match(conf, `127.0.0.1:${r.port}`, `the router reaches ${r.name}`)
})
