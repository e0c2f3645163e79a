// `npm run bench`: measures the read path against its ceilings, identity on vs off, misses, writes, a 95/5 mix with
// end-to-end freshness and a stale-key audit, and list-page latency as the post count grows. Every subject runs
// alternately with its baseline in the same run; the report goes to bench/report.{md,json,svg}.
// Longer than most files: it is the run's script, each scenario a few lines in the order the report shows them; the
// measuring itself lives in bench/lib.
import { cpus } from 'node:os'
import { Redis } from 'ioredis'
import { compare, load, type LoadResult, type LoadSpec, type Request } from './lib/load.js'
import { ROOT, startServer, type Server } from './lib/processes.js'
import { efficiency, writeReport, ratio, type Extra, type Row } from './lib/report.js'
import { benchEnv, dropNamespace, postboard, seedViaApi, token } from './lib/setup.js'
import { drained, freshnessProbe, histogram, quantileBound, staleAudit } from './lib/freshness.js'
import { listScale } from './lib/list-scale.js'
import { nearCacheBytesPerEntry } from './lib/near-memory.js'
import { otlpSink } from './lib/otlp-sink.js'
import { copyPostsToPeer, lostLikes, PEER_DATABASE, routeTo, startPeer, type Losses } from './lib/writes.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const CONNECTIONS = 50
/** Connections for the write rows (BENCH_WRITE_CONNECTIONS to compare with the 5 earlier reports used). */
const WRITE_CONNECTIONS = Number(process.env.BENCH_WRITE_CONNECTIONS ?? 50)
const WRITE_WARM_SECONDS = Number(process.env.BENCH_WRITE_WARM_SECONDS ?? 10)
// Seeded through the real write API, which the local FerretDB makes slow (docs/operations.md): modest by default.
const POSTS = Number(process.env.BENCH_POSTS ?? 500)
const log = (msg: string): void => { process.stdout.write(`[bench] ${msg}\n`) }

const rows: Row[] = []
const extras: Extra[] = []
const servers: Server[] = []
const started = Date.now()

async function serve (p: Promise<Server>): Promise<Server> {
  const s = await p
  servers.push(s)
  return s
}

/** Load on a server: its process id lets the report show what a request costs it in CPU. */
function spec (server: Server, extra: Partial<LoadSpec> = {}): LoadSpec {
  return { url: server.url, pid: server.pid, connections: CONNECTIONS, seconds: SECONDS, ...extra }
}

async function pair (scenario: string, baselineName: string, baseline: LoadSpec, subjectName: string, subject: LoadSpec,
  judge?: { target: string, met: (r: Row) => boolean }, note?: string): Promise<Row> {
  log(`${scenario}: ${subjectName} vs ${baselineName}`)
  const res = await compare(baseline, subject, ROUNDS, (m) => log(`  ${m}`))
  const row: Row = { scenario, baselineName, subjectName, baseline: res.baseline, subject: res.subject, ratios: res.ratios, note }
  if (judge !== undefined) {
    row.target = judge.target
    row.met = judge.met(row)
  }
  rows.push(row)
  const q = ratio(row)
  log(`  → ${Math.round(res.subject.rps)} vs ${Math.round(res.baseline.rps)} req/s${q === undefined ? '' : ` (${q.toFixed(3)}×)`}, p99 ${res.subject.p99} ms${row.met === undefined ? '' : row.met ? ' [target met]' : ' [target MISSED]'}`)
  return row
}

async function main (): Promise<void> {
  log(`${cpus().length} cores; ${ROUNDS} rounds of ${SECONDS}s per side; ${CONNECTIONS} connections`)
  const env = benchEnv('main')
  await dropNamespace(env)

  // The system under test, one role per process as an operator would run it.
  const write = await serve(postboard('write', env))
  const consumer = await serve(postboard('consumer', env))
  const readAuth = await serve(postboard('read', env))
  const readOpen = await serve(postboard('read', { ...env, IDENTITY_MODE: 'off' }))
  log(`seeding 100 users and ${POSTS} posts through the write API`)
  const { userIds, postIds } = await seedViaApi(write, 100, POSTS)
  const bearer = { authorization: `Bearer ${await token(String(userIds[0]))}` }
  // The seeding's events, marks and fills finish first, so no read row shares the machine with that backlog.
  log('waiting for the seeding to drain (outbox, consumer)')
  if (!await drained(write.url, consumer.url)) log('  not drained after 180 s; measuring anyway')

  // Ceilings: bare Fastify, and bare Fastify + one Redis GET of the bytes a cached post has.
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6380')
  const samplePost = await (await fetch(`${readOpen.url}/get_server/posts/${postIds[0]!}`)).text()
  await redis.set('pbbench:ceiling:post', samplePost)
  const ceiling = await serve(startServer(['--import', 'tsx', 'bench/ceiling-server.ts'], { CEILING_KEY: 'pbbench:ceiling:post' }))
  await pair('ceilings', 'Fastify hello world', spec(ceiling, { path: '/hello' }),
    'Fastify + one Redis GET', spec(ceiling, { path: '/redis/1' }))

  // Warm the cache: one read of every post and user.
  const posts = postIds.map((id) => ({ path: `/get_server/posts/${id}`, headers: bearer }))
  const users = userIds.map((id) => ({ path: `/get_server/users/${id}`, headers: bearer }))
  for (const r of [...posts, ...users]) await fetch(readAuth.url + r.path, { headers: r.headers })

  // The ceiling is asked exactly what the subject is asked (the same number of distinct paths, the same token
  // header), so autocannon, which shares the machine, does the same work on both sides of the ratio.
  const redisCeiling = spec(ceiling, { requests: posts.map((_, i) => ({ path: `/redis/${i + 1}`, headers: bearer })) })
  // The naive peer: a hand-written cache-aside handler (no identity), warmed with one read of every post.
  const naive = await serve(startServer(['--import', 'tsx', 'bench/naive-read-server.ts'], { MONGODB_DATABASE: env.MONGODB_DATABASE! }))
  for (const r of posts) await fetch(naive.url + r.path, { headers: r.headers })
  const naiveSpec = spec(naive, { requests: posts })
  // What `npm run dev` runs: every role in one process, every setting at its default.
  const allInOne = await serve(postboard('all', env))
  for (const r of posts) await fetch(allInOne.url + r.path, { headers: r.headers })
  const efficient = (times: number, p99: number): { target: string, met: (r: Row) => boolean } => ({
    target: `CPU/req ≤ ${times === 1 ? '' : `1/${times} of `}baseline's (≥ ${times}× its efficiency), p99 ≤ ${p99} ms`,
    met: (r) => (efficiency(r) ?? 0) >= times && r.subject.p99 <= p99
  })
  for (const [name, server] of [['--role=all, defaults (npm run dev)', allInOne], ['--role=read, defaults', readAuth]] as const) {
    await pair(`cached GET post by id, ${name}`, 'Fastify + Redis GET (ceiling)', redisCeiling, 'GET /get_server/posts/{id}, identity validated',
      spec(server, { requests: posts }), efficient(1, 5))
    await pair(`cached GET post by id, ${name}`, 'naive cache-aside (GET, JSON.parse; no identity)', naiveSpec, 'GET /get_server/posts/{id}, identity validated',
      spec(server, { requests: posts }), efficient(1.3, 5))
  }
  await pair('cached GET user by id, --role=read, defaults', 'Fastify + Redis GET (ceiling)', redisCeiling, 'GET /get_server/users/{id}, identity validated',
    spec(readAuth, { requests: users }), efficient(1, 5))
  await pair('identity cost', 'GET post, IDENTITY_MODE=off', spec(readOpen, { requests: posts.map((p) => ({ path: p.path })) }),
    'GET post, identity validated (cached verdicts)', spec(readAuth, { requests: posts }),
    { target: '≥ 0.95×', met: (r) => (ratio(r) ?? 0) >= 0.95 })
  // What each default is worth: the same reads with the near cache off, with every request logged, and with
  // tracing on (a span per request, batched to an OTLP/HTTP collector: a local sink stands in for it).
  const sink = await otlpSink()
  for (const [name, extra] of [['NEAR_CACHE_ENTRIES=0 (near cache off)', { NEAR_CACHE_ENTRIES: '0' }], ['REQUEST_LOG=all (two lines per request)', { REQUEST_LOG: 'all' }],
    ['tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)', { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }]] as const) {
    const other = await serve(postboard('read', { ...env, ...extra }))
    await pair(`default vs ${name}`, `--role=read, ${name}`, spec(other, { requests: posts }), '--role=read, defaults (tracing off)', spec(readAuth, { requests: posts }))
    await other.stop()
  }
  extras.push({ name: 'OTLP exports the tracing row sent to the local sink', value: String(sink.exports()) })
  await sink.stop()
  await pair('list pages, --role=read, defaults', 'Fastify + Redis GET (ceiling)', redisCeiling, 'GET /get_server/posts?limit=20',
    spec(readAuth, { path: '/get_server/posts?limit=20', headers: bearer }), efficient(0.5, 10))
  await allInOne.stop()
  await naive.stop()
  const bytes = await nearCacheBytesPerEntry(samplePost)
  extras.push({ name: `near cache memory at its default bound (${bytes.entries} entries of this ${samplePost.length}-byte post, heap after GC)`, value: `${(bytes.bytes / 1e6).toFixed(1)} MB, ${Math.round(bytes.bytes / bytes.entries)} bytes per entry` })

  // Misses: a read server whose entries live one second, reading ids spread over every post.
  const readCold = await serve(postboard('read', { ...env, IDENTITY_MODE: 'off', CACHE_TTL_SECONDS: '1' }))
  await pair('misses', 'GET post, cached', spec(readOpen, { requests: posts.map((p) => ({ path: p.path })) }),
    `GET post, 1 s TTL over ${POSTS} ids (each id refilled every second)`, spec(readCold, { requests: shuffle(posts.map((p) => ({ path: p.path }))) }),
    undefined, 'each miss is a MongoDB read plus a CAS fill; FerretDB (PostgreSQL backend) is the store here, mongo:7 in production')

  // Writes (write-path owner): 50 connections, like every other row. 2,000 creates/s at 5 connections would need
  // 2.5 ms per request end to end (Little's law), which no store round trip plus a Kafka acknowledgement allows.
  const W = WRITE_CONNECTIONS
  const postBody = (i: number): string => JSON.stringify({ user_id: userIds[i % userIds.length], title: `bench write ${i}`, content: 'written by the benchmark' })
  const creates = Array.from({ length: 500 }, (_, i) => ({ method: 'POST' as const, path: '/post_server/posts', body: postBody(i), headers: { 'content-type': 'application/json' } }))
  const writePerRequest = await serve(postboard('write', env, ['--write-connections', 'per-request']))
  const writeThrough = await serve(postboard('write', env, ['--cache-update', 'write-through']))
  // Writes warm up for longer than reads (the JIT, FerretDB's and PostgreSQL's caches, the producer): their rate
  // still climbed through the first 5 s rounds in earlier runs, so the pooled write role first takes 10 s of creates.
  log(`warming the write role: ${WRITE_WARM_SECONDS} s of creates`)
  await load(spec(write, { requests: creates, connections: W, seconds: WRITE_WARM_SECONDS }))
  await pair(`POST /posts, ${W} connections`, 'write role, a connection per write', spec(writePerRequest, { requests: creates, connections: W }),
    'write role, pooled connections', spec(write, { requests: creates, connections: W }),
    { target: 'pooled ≥ 2,000/s', met: (r) => r.subject.rps >= 2000 }, `measured after ${WRITE_WARM_SECONDS} s of creates to warm the write role up`)
  await pair(`POST /posts cache update, ${W} connections`, 'events (consumer fills Redis)', spec(write, { requests: creates, connections: W }),
    'write-through (+ Redis CAS before answering)', spec(writeThrough, { requests: creates, connections: W }))
  const likes = shuffle(postIds).slice(0, 200).map((id) => ({ method: 'POST' as const, path: `/post_server/posts/${id}/like` }))
  await pair(`likes, ${W} connections`, 'POST /posts (pooled)', spec(write, { requests: creates, connections: W }),
    'POST /posts/{id}/like over 200 posts', spec(write, { requests: likes, connections: W }))

  await versusPeer(env, write, readOpen, creates, likes, postIds)

  // Mixed 95/5 with end-to-end freshness, then every touched key compared with MongoDB.
  // The write scenarios leave a backlog on the local FerretDB; start the mixed run from a drained pipeline.
  log('waiting for the outbox and the consumer to drain')
  if (!await drained(write.url, consumer.url)) log('  not drained after 180 s; measuring anyway')
  log('mixed 95% reads / 5% likes, with a freshness probe')
  const mixed = [...Array.from({ length: 19 }, (_, i) => posts[i * 7 % posts.length]!), ...likes.slice(0, 1).map((l) => ({ ...l, headers: bearer }))]
  const mixedReqs = Array.from({ length: 400 }, (_, i) => i % 20 === 19
    ? { method: 'POST' as const, path: `/post_server/posts/${postIds[i % 50]!}/like` }
    : mixed[i % 19]!)
  const readWrite = await serve(postboard('read,write', env))
  // A process just started answers slowly (the JIT, its identity verdicts, the near cache, its pools): the mix is
  // measured warm, like every other row.
  await load(spec(readWrite, { requests: mixedReqs, seconds: 2 }))
  // Freshness is measured twice: with the mix as fast as it goes (every core busy, so a GET may wait for one), and at
  // half that pace (what a replica sized with headroom sees). The gap between the two is what saturation adds.
  const mixWithProbe = async (rate?: number): Promise<{ mix: LoadResult, fresh: Awaited<ReturnType<typeof freshnessProbe>>, applied: { bound: number, count: number } }> => {
    const appliedBefore = await histogram(consumer.url, 'pb_consumer_freshness_seconds')
    const probe = freshnessProbe(readWrite.url, postIds.slice(0, 50), bearer, SECONDS * 2 * 1000)
    const mix = await load(spec(readWrite, { requests: mixedReqs, seconds: SECONDS * 2, rate }))
    const fresh = await probe
    return { mix, fresh, applied: quantileBound(appliedBefore, await histogram(consumer.url, 'pb_consumer_freshness_seconds'), 0.99) }
  }
  const { mix, fresh, applied } = await mixWithProbe()
  rows.push({ scenario: 'mixed 95/5', baselineName: '', subjectName: 'reads + likes on one read,write process (consumer separate)', subject: mix })
  const p = fresh.percentiles
  extras.push({ name: `freshness under the mix as fast as it goes, write acknowledged → visible through GET (${fresh.samples} samples, ${fresh.unseen} not visible within 30 s; ${fresh.firstPoll} already visible at the first GET)`, value: `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms`, target: 'p99 ≤ 50 ms', met: p.p99 <= 50 && fresh.unseen === 0 })
  // The pipeline's own share, from the consumer's histogram over the same run: event written → applied in Redis.
  extras.push({ name: `during the mix, event written → applied in Redis by the consumer (${applied.count} events, pb_consumer_freshness_seconds)`, value: `p99 ≤ ${applied.bound * 1000} ms (histogram bucket)` })
  const half = Math.round(mix.rps / 2)
  log(`the same mix at half its pace, ${half} req/s`)
  const paced = await mixWithProbe(half)
  const hp = paced.fresh.percentiles
  extras.push({ name: `freshness under the mix at half its pace (${Math.round(paced.mix.rps)} req/s, ${paced.fresh.samples} samples, ${paced.fresh.unseen} not visible within 30 s; ${paced.fresh.firstPoll} already visible at the first GET)`, value: `p50 ${hp.p50} ms, p99 ${hp.p99} ms, max ${hp.max} ms; consumer's written → applied p99 ≤ ${paced.applied.bound * 1000} ms`, target: 'p99 ≤ 50 ms', met: hp.p99 <= 50 && paced.fresh.unseen === 0 })
  const audit = await staleAudit(env, postIds.slice(0, 50))
  extras.push({ name: `stale keys after the mixed run (${audit.checked} keys compared with MongoDB)`, value: String(audit.stale), target: '0', met: audit.stale === 0 })

  // What the opt-in near cache adds to freshness: the same probe, no other load, on a read,write process with it and
  // on one without it (the difference is the invalidation message's trip, plus noise).
  for (const [label, near] of [['without the near cache (NEAR_CACHE_ENTRIES=0)', { NEAR_CACHE_ENTRIES: '0' }], ['with the near cache (default)', {}]] as const) {
    const server = await serve(postboard('read,write', { ...env, ...near }))
    const f = await freshnessProbe(server.url, postIds.slice(50, 100), bearer, SECONDS * 1000)
    extras.push({ name: `freshness at rest, ${label} (${f.samples} samples, ${f.unseen} not visible within 30 s)`, value: `p50 ${f.percentiles.p50} ms, p99 ${f.percentiles.p99} ms, max ${f.percentiles.max} ms` })
  }
  const nearAudit = await staleAudit(env, postIds.slice(50, 100))
  extras.push({ name: `stale keys after the near-cache probes (${nearAudit.checked} keys compared with MongoDB)`, value: String(nearAudit.stale), target: '0', met: nearAudit.stale === 0 })

  // List-page latency as the post count grows (data sets seeded in bulk, kept between runs).
  for (const e of await listScale(log, SECONDS, ROUNDS)) extras.push(e)

  redis.disconnect()
  const md = writeReport(ROOT, rows, extras, SECONDS)
  log(`done in ${Math.round((Date.now() - started) / 1000)}s; report in bench/report.md`)
  process.stdout.write(`\n${md}\n`)
}

/**
 * Writes against the naive peer (bench/peer-server.ts): one replica each, then two write replicas each behind the
 * router compose uses; creates and likes side by side, and the likes each loses when 400 land on one post at once.
 */
async function versusPeer (env: Record<string, string>, write: Server, read: Server, creates: Request[], likes: Request[], postIds: number[]): Promise<void> {
  const W = WRITE_CONNECTIONS
  await copyPostsToPeer(env)
  const peer = await serve(startPeer())
  const loss = (l: Losses): string => `${l.lost} lost (${l.acknowledged} of ${l.sent} acknowledged, ${l.stored} stored)`
  const lossExtra = async (where: string, ours: string, theirs: string): Promise<void> => {
    // A post outside the likes rows' 200, so the count starts from a quiet document.
    const target = postIds.at(-1)!
    const [mine, peers] = [await lostLikes(ours, env.MONGODB_DATABASE!, target, 400), await lostLikes(theirs, PEER_DATABASE, target, 400)]
    extras.push({ name: `likes lost, 400 at once on one post, ${where}: postboard / naive peer`, value: `${loss(mine)} / ${loss(peers)}`, target: 'postboard 0', met: mine.lost === 0 && mine.acknowledged === 400 })
  }
  const judged = (target: number): { target: string, met: (r: Row) => boolean } =>
    ({ target: `≥ ${target}× the peer, 0 errors`, met: (r) => (ratio(r) ?? 0) >= target && r.subject.errors + r.subject.non2xx === 0 })
  await pair(`creates vs naive peer, 1 replica each, ${W} connections`, 'naive peer (insertOne + send)', spec(peer, { requests: creates, connections: W }),
    'postboard write role', spec(write, { requests: creates, connections: W }), judged(3))
  await pair(`likes vs naive peer, 1 replica each, ${W} connections`, 'naive peer ($inc + send)', spec(peer, { requests: likes, connections: W }),
    'postboard write role', spec(write, { requests: likes, connections: W }), judged(1.5))
  await lossExtra('1 replica each', write.url, peer.url)

  const [write2, peer2] = [await serve(postboard('write', env)), await serve(startPeer())]
  const ours = routeTo('postboard', 18380, [write, write2], read)
  const theirs = routeTo('peer', 18390, [peer, peer2], read)
  try {
    const both = (a: Server, b: Server, url: string, extra: Partial<LoadSpec>): LoadSpec => ({ ...spec(a, extra), url, pid: [a.pid, b.pid] })
    await pair(`creates vs naive peer, 2 write replicas each behind the router, ${W} connections`, 'naive peer ×2', both(peer, peer2, theirs.url, { requests: creates, connections: W }),
      'postboard write ×2', both(write, write2, ours.url, { requests: creates, connections: W }), judged(3))
    await pair(`likes vs naive peer, 2 write replicas each behind the router, ${W} connections`, 'naive peer ×2', both(peer, peer2, theirs.url, { requests: likes, connections: W }),
      'postboard write ×2', both(write, write2, ours.url, { requests: likes, connections: W }), judged(1.5))
    await lossExtra('2 write replicas each behind the router', ours.url, theirs.url)
  } finally {
    ours.stop()
    theirs.stop()
  }
}

function shuffle<T> (xs: T[]): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

try {
  await main()
} finally {
  await Promise.all(servers.map(async (s) => await s.stop()))
}
