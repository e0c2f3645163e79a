// List-page latency as the post count grows: 1k, 100k and 1M posts, each in a namespace of its own, seeded in bulk
// straight into MongoDB (the write API would take hours for 1M) and kept between runs. Pages come from the Redis
// index, which the read role rebuilds from MongoDB when cold; the first, a middle and a deep page are all measured.
import { MongoClient } from 'mongodb'
import { Redis } from 'ioredis'
import { POST_INDEX_KEY, postIndexReady } from '../../src/cache/keys.js'
import { parseRunId } from '../../src/cache/instance.js'
import { encodeCursor } from '../../src/shared/cursor.js'
import { loadConfig } from '../../src/shared/config.js'
import type { PostDoc, UserDoc } from '../../src/store/collections.js'
import { ensureIndexes } from '../../src/store/indexes.js'
import { load, median, medianResult, type LoadResult } from './load.js'
import type { Server } from './processes.js'
import type { Extra } from './report.js'
import { benchEnv, postboard, until } from './setup.js'

const SIZES = (process.env.BENCH_LIST_SIZES ?? '1000,100000,1000000').split(',').map(Number)
const BATCH = 10_000

async function seed (env: Record<string, string>, n: number, log: (m: string) => void): Promise<void> {
  const config = loadConfig({}, env)
  const mongo = new MongoClient(config.mongoUrl)
  const db = mongo.db(config.mongoDatabase)
  try {
    const counter = await db.collection<{ _id: string, seq: number }>('counters').findOne({ _id: 'posts' })
    if (counter?.seq === n) return // seeded by an earlier run
    log(`seeding ${n.toLocaleString()} posts in bulk (kept for later runs)`)
    await db.dropDatabase()
    await ensureIndexes(db)
    const created = new Date()
    // Typed as the store's documents, so a change of their shape breaks this seeding at compile time. No pending
    // mark: bulk-seeded posts count as published (the relay has nothing to do; the index is rebuilt from MongoDB).
    const user: UserDoc = { _id: 1, username: 'bench-scale', created_at: created, version: 1 }
    await db.collection<UserDoc>('users').insertOne(user)
    for (let from = 1; from <= n; from += BATCH) {
      const docs: PostDoc[] = []
      for (let id = from; id < Math.min(from + BATCH, n + 1); id++) {
        docs.push({ _id: id, user_id: 1, title: `Scale post ${id}`, content: 'An ordinary post body for the list-scale benchmark.', like_count: 0, dislike_count: 0, created_at: created, version: 1 })
      }
      await db.collection<PostDoc>('posts').insertMany(docs, { ordered: false })
      if ((from - 1) % 100_000 === 0 && from > 1) log(`  ${(from - 1).toLocaleString()} posts`)
    }
    await db.collection<{ _id: string, seq: number }>('counters').updateOne({ _id: 'users' }, { $set: { seq: 1 } }, { upsert: true })
    await db.collection<{ _id: string, seq: number }>('counters').updateOne({ _id: 'posts' }, { $set: { seq: n } }, { upsert: true })
  } finally {
    await mongo.close()
  }
}

export async function listScale (log: (m: string) => void, seconds: number, rounds: number): Promise<Extra[]> {
  const servers: Array<{ n: number, read: Server, paths: string[] }> = []
  try {
    for (const n of SIZES) {
      const env = benchEnv(`scale${n}`, { IDENTITY_MODE: 'off' })
      await seed(env, n, log)
      const read = await postboard('read', env)
      servers.push({ n, read, paths: [] })
      const started = Date.now()
      // A cold index is rebuilt in the background while pages read MongoDB; wait until pages come from Redis.
      // (A cold page is a MongoDB query over every post; on the local FerretDB it may outlast the server's request
      // timeout, which closes the socket: that is "not yet", not a failure.)
      await until(`the ${n} post index`, async () => {
        const res = await fetch(`${read.url}/get_server/posts?limit=20`).catch(() => null)
        if (res?.status !== 200) return false
        const page = await res.json() as { items: Array<{ post_id: number }> }
        return page.items[0]?.post_id === n && await indexReady(env)
      }, 30 * 60_000)
      log(`list at ${n.toLocaleString()} posts: index ready after ${Math.round((Date.now() - started) / 1000)}s`)
      // The first page, one from the middle and one near the oldest post.
      const paths = ['/get_server/posts?limit=20', pagePath(Math.floor(n / 2)), pagePath(40)]
      // Warm the entries those pages show (bulk-seeded posts were never cached) before measuring.
      // (On the local FerretDB a cold page of 20 misses may outlast the server's socket timeout: retry until it answers.)
      for (const path of paths) {
        await until(`a warm ${path}`, async () => await fetch(read.url + path).then((r) => r.ok, () => false), 10 * 60_000)
      }
      servers.at(-1)!.paths = paths
    }
    // The sizes take turns round by round (each round in a rotated order), as every other row alternates with its
    // baseline: measured one size after another, minutes apart, the machine's drift read as a growth with size.
    const results = new Map<number, LoadResult[]>(SIZES.map((n) => [n, []]))
    for (let i = 0; i < rounds; i++) {
      for (let k = 0; k < servers.length; k++) {
        const { n, read, paths } = servers[(i + k) % servers.length]!
        results.get(n)!.push(await load({ url: read.url, pid: read.pid, connections: 50, seconds, requests: paths.map((path) => ({ path })) }))
      }
      log(`  list round ${i + 1}/${rounds}: ${SIZES.map((n) => `${n.toLocaleString()} posts p99 ${results.get(n)!.at(-1)!.p99} ms`).join(', ')}`)
    }
    const extras: Extra[] = []
    for (const n of SIZES) {
      const r = medianResult(results.get(n)!)
      extras.push({ name: `list page at ${n.toLocaleString()} posts (first, middle, deep pages)`, value: `${Math.round(r.rps)} req/s, p99 ${r.p99} ms${r.cpuUs === undefined ? '' : `, server CPU ${r.cpuUs.toFixed(0)} µs/req`}` })
    }
    const small = results.get(SIZES[0]!)!
    const large = results.get(SIZES.at(-1)!)!
    if (SIZES.length > 1) {
      // Round by round, like the throughput ratios: each pair of measurements ran within one round.
      const ratios = large.map((r, i) => r.p99 / Math.max(small[i]!.p99, 1))
      const q = median(ratios)
      extras.push({ name: `list page p99 at ${SIZES.at(-1)!.toLocaleString()} vs ${SIZES[0]!.toLocaleString()} posts (median of the rounds' ratios)`, value: `${q.toFixed(2)}× (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`, target: '≤ 1.5×', met: q <= 1.5 })
    }
    return extras
  } finally {
    await Promise.all(servers.map(async ({ read }) => await read.stop()))
  }
}

/** True once the Redis index carries its ready mark (set by the rebuild when it has every id). */
async function indexReady (env: Record<string, string>): Promise<boolean> {
  const config = loadConfig({}, env)
  const redis = new Redis(config.redisUrl, { keyPrefix: config.redisKeyPrefix })
  try {
    return await redis.zscore(POST_INDEX_KEY, postIndexReady(parseRunId(await redis.info('server')))) !== null
  } finally {
    redis.disconnect()
  }
}

/** A page of 20 starting below post `below` (the cursor encodes the id the page starts under). */
function pagePath (below: number): string {
  return `/get_server/posts?limit=20&cursor=${encodeCursor(below)}`
}
