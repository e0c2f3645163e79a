// Leases in Redis: one holder per key across processes; a dead holder's lease expires; a lease held too long is a 503;
// without Redis the work still runs (ordered within the replica only).
import t, { type Test } from 'tap'
import pino from 'pino'
import { Redis } from 'ioredis'
import { RedisLeases } from '../../src/cache/lease.js'
import { stackEnv, uniqueName } from '../helper/index.js'

const silent = pino({ level: 'silent' })

/** A client whose keys carry a prefix of the test's own (as an app's do), and removes them afterwards. */
async function client (t: Test): Promise<Redis> {
  const prefix = `${uniqueName('lease')}:`
  const redis = new Redis(stackEnv.REDIS_URL, { keyPrefix: prefix, lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  t.teardown(async () => {
    for (const key of await keysOf(redis)) await redis.del(key.slice(prefix.length))
    redis.disconnect()
  })
  return redis
}

/** The client's keys (KEYS takes no key prefix: the pattern names it). */
async function keysOf (redis: Redis): Promise<string[]> {
  return await redis.keys(`${redis.options.keyPrefix ?? ''}*`)
}

t.test('two holders of one key run one after the other; other keys run alongside', async (t) => {
  const redis = await client(t)
  // Two instances, as two replicas would have: they share nothing but Redis.
  const [a, b] = [new RedisLeases(redis, { ttlMs: 5000, waitMs: 5000, log: silent }), new RedisLeases(redis, { ttlMs: 5000, waitMs: 5000, log: silent })]
  const events: string[] = []
  const work = (name: string) => async (): Promise<string> => {
    events.push(`${name} in`)
    await new Promise((resolve) => setTimeout(resolve, 30))
    events.push(`${name} out`)
    return name
  }
  const results = await Promise.all([a.hold('db/posts/1', work('a')), b.hold('db/posts/1', work('b')), b.hold('db/posts/2', work('c'))])
  t.same(results, ['a', 'b', 'c'])
  const one = events.filter((e) => !e.startsWith('c'))
  t.same(one, [`${one[0]!.split(' ')[0]!} in`, `${one[0]!.split(' ')[0]!} out`, `${one[2]!.split(' ')[0]!} in`, `${one[2]!.split(' ')[0]!} out`], 'never inside together')
  t.ok(events.indexOf('c in') < events.indexOf(`${one[0]!.split(' ')[0]!} out`), 'another key does not wait')
  t.same(await keysOf(redis), [], 'every lease released')
})

t.test('a lease its holder never released (it died) expires, then the next one goes ahead', async (t) => {
  const redis = await client(t)
  await redis.set('lease:db/posts/7', 'a dead replica', 'PX', 400)
  const leases = new RedisLeases(redis, { ttlMs: 5000, waitMs: 5000, log: silent })
  const started = Date.now()
  t.equal(await leases.hold('db/posts/7', async () => 'done'), 'done')
  t.ok(Date.now() - started >= 300, `waited for the expiry (${Date.now() - started} ms)`)
})

t.test('a lease held longer than the wait: 503, and the work never ran', async (t) => {
  const redis = await client(t)
  await redis.set('lease:db/posts/8', 'a stalled replica', 'PX', 60_000)
  const leases = new RedisLeases(redis, { ttlMs: 5000, waitMs: 200, log: silent })
  let ran = false
  await t.rejects(leases.hold('db/posts/8', async () => { ran = true }), { statusCode: 503, code: 'PB_UNAVAILABLE' })
  t.equal(ran, false)
  t.equal(await redis.get('lease:db/posts/8'), 'a stalled replica', 'the holder\'s lease is untouched')
})

t.test('a holder whose lease expired does not release the next holder\'s', async (t) => {
  const redis = await client(t)
  const leases = new RedisLeases(redis, { ttlMs: 100, waitMs: 5000, log: silent })
  await leases.hold('db/posts/9', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200)) // outlives its lease
    await redis.set('lease:db/posts/9', 'the next holder', 'PX', 60_000)
  })
  t.equal(await redis.get('lease:db/posts/9'), 'the next holder')
})

t.test('holdAvailable: the free leases of a batch in one round trip, the held ones left out, all released', async (t) => {
  const redis = await client(t)
  await redis.set('lease:db/posts/2', 'another replica', 'PX', 60_000)
  const leases = new RedisLeases(redis, { ttlMs: 5000, waitMs: 5000, log: silent })
  const seen: string[][] = []
  const result = await leases.holdAvailable(['db/posts/1', 'db/posts/2', 'db/posts/3'], async (held) => {
    seen.push([...held])
    t.same((await keysOf(redis)).map((k) => k.slice(k.indexOf('lease:'))).sort(), ['lease:db/posts/1', 'lease:db/posts/2', 'lease:db/posts/3'], 'held while fn runs')
    return 'ran'
  })
  t.equal(result, 'ran')
  t.same(seen, [['db/posts/1', 'db/posts/3']], 'fn got the two free keys, not the one another replica holds')
  t.same((await keysOf(redis)).map((k) => k.slice(k.indexOf('lease:'))), ['lease:db/posts/2'], 'its own released, the other holder\'s untouched')
  t.same(await leases.holdAvailable(['db/posts/2'], async (held) => [...held]), [], 'nothing free: fn runs with nothing held')
})

t.test('Redis unreachable: the work runs without a lease', async (t) => {
  const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  const leases = new RedisLeases(redis, { ttlMs: 5000, waitMs: 5000, log: silent })
  t.equal(await leases.hold('db/posts/1', async () => 'ran'), 'ran')
  t.same(await leases.holdAvailable(['db/posts/1', 'db/posts/2'], async (held) => [...held]), ['db/posts/1', 'db/posts/2'], 'a batch gets every key')
})
