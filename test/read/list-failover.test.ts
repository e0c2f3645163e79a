// The list index after Redis lost acknowledged writes but kept its ready mark: a failover to a replica that lagged
// (or a restart from an older snapshot). For real: a second redis-server replicates the stack's, stops replicating
// (promoted) before more posts are indexed, and the app's Redis address moves to it. Its index still carries the mark
// but misses the newer posts; tied to the instance's run id, the mark no longer vouches for the set, the index is
// rebuilt, and list pages show every post again, without restarting the app.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { POST_INDEX_KEY } from '../../src/cache/keys.js'
import type { PostPage } from '../../src/shared/schemas.js'
import { build, createPost, createUser, indexReadyMark, metricValue, tcpProxy, waitFor, type Tap } from '../helper/index.js'

const STACK_REDIS_PORT = Number(process.env.STACK_REDIS_PORT ?? 6380)

/** A second redis-server, replicating the stack's, on a Unix socket of its own; stopped in teardown. */
async function replica (t: Tap): Promise<{ path: string, client: Redis }> {
  const dir = await mkdtemp(join(tmpdir(), 'pb-replica-'))
  const path = join(dir, 'redis.sock')
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', path, '--dir', dir, '--save', '', '--appendonly', 'no',
    '--replicaof', '127.0.0.1', String(STACK_REDIS_PORT)], { stdio: 'ignore' })
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
    await rm(dir, { recursive: true, force: true })
  })
  await waitFor('the replica to listen', async () => {
    const probe = new Redis({ path, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => {}) // not listening yet: answered by the catch below
    try {
      await probe.connect()
      return await probe.ping() === 'PONG'
    } catch {
      return false
    } finally {
      probe.disconnect()
    }
  }, 10_000)
  const client = new Redis({ path })
  t.teardown(() => { client.disconnect() })
  return { path, client }
}

t.test('Redis failed over to a replica that lagged: the index is rebuilt and lists show every acknowledged post', async (t) => {
  const { path, client: promoted } = await replica(t)
  const proxy = await tcpProxy(t, { port: STACK_REDIS_PORT })
  const app = await build(t, { role: 'all' }, { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, NEAR_CACHE_ENTRIES: '0' })
  const prefix = app.config.redisKeyPrefix
  const list = async (): Promise<number[]> => (await app.inject('/get_server/posts?limit=100')).json<PostPage>().items.map((p) => p.post_id)
  const indexed = async (): Promise<number> => await app.redis.zcount(POST_INDEX_KEY, 1, '+inf')

  const { user_id: uid } = await createUser(app, 'failover')
  const before: number[] = []
  for (let i = 0; i < 5; i++) before.push((await createPost(app, uid, `before ${i}`)).post_id)
  await waitFor('the first posts indexed', async () => await indexed() === 5)
  await list() // cold: starts the rebuild that marks the index ready
  const mark = await indexReadyMark(app.redis)
  await waitFor('the index marked ready', async () => await app.redis.zscore(POST_INDEX_KEY, mark) !== null)
  await waitFor('the replica to hold the index', async () => await promoted.zcard(`${prefix}${POST_INDEX_KEY}`) === 6, 10_000)
  // The replica stops following: it keeps the ready mark and these five posts, and misses everything after.
  await promoted.replicaof('NO', 'ONE')

  const after: number[] = []
  for (let i = 0; i < 5; i++) after.push((await createPost(app, uid, `after ${i}`)).post_id)
  await waitFor('the newer posts indexed', async () => await indexed() === 10)
  const all = [...before, ...after].sort((a, b) => b - a)
  t.same(await list(), all, 'every post listed before the failover')

  proxy.switchTo({ path })
  await waitFor('the app to reach the promoted replica', async () => await app.redis.ping().then(() => true, () => false) &&
    await app.redis.zcard(POST_INDEX_KEY) === 6)
  t.equal(await promoted.zcount(`${prefix}${POST_INDEX_KEY}`, 1, '+inf'), 5, 'the promoted replica lost the five newer posts from the index')

  const rebuilds = await metricValue(app.metrics.listRebuilds)
  await waitFor('a list page answered from the index to show every post', async () => {
    const hits = await metricValue(app.metrics.cacheLookups, { entity: 'post_list', result: 'hit' })
    const ids = await list()
    return JSON.stringify(ids) === JSON.stringify(all) && await metricValue(app.metrics.cacheLookups, { entity: 'post_list', result: 'hit' }) > hits
  }, 15_000)
  t.pass('every acknowledged post is listed again, from the index, without restarting the app')
  t.ok(await metricValue(app.metrics.listRebuilds) > rebuilds, 'the index was rebuilt on the new instance')
  t.equal(await promoted.zcount(`${prefix}${POST_INDEX_KEY}`, 1, '+inf'), 10, 'which holds all ten posts')
})
