// Race storm: many keys, concurrent likes and cold reads through two read/write replicas, while the consumer (a real
// process) is paused and resumed at random (SIGSTOP/SIGCONT), so read-through fills and the consumer's applies race
// on every key. After convergence every cached entry must equal MongoDB. Seeded: each run makes the same choices
// (which keys, which kinds, how long each pause), though the interleaving still varies with timing.
// Figure: keys checked, stale.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { appsOn, compareCache, createPost, createUser, figure, kafkaFor, loop, metricValue, namespace, post, prng, sleep, startRole, stores, waitCaughtUp } from '../helper/index.js'

const SEED = 20240607
const POSTS = 80 // created before the consumer starts: every key begins cold
const MAX_NEW_POSTS = 40 // created during the storm, read at once (cold) and even before they exist (negative entries)
const LIKERS = 4
const READERS = 4
const STORM_MS = 10_000

t.test('race storm: likes, cold reads and a stalling consumer; after convergence every cached key equals MongoDB', async (t) => {
  const { env, config } = namespace(t, 'read,write')
  const replicas = await appsOn(t, config, 2)
  const { redis, db } = await stores(t, config)
  const rand = prng(SEED)
  const replica = (): FastifyInstance => rand.pick(replicas)

  const { user_id: uid } = await createUser(replicas[0]!, 'storm')
  const posts: number[] = []
  for (let i = 0; i < POSTS; i++) posts.push((await createPost(replica(), uid, `s${i}`)).post_id)
  const lastBefore = posts.at(-1)!
  // Ids grow but are not dense: with two write replicas each takes ids from a block of its own, and the ids a block
  // did not hand out before it expired are never used. An id in such a gap is no post, and 404 is its right answer.
  const before = new Set(posts)
  const consumer = await startRole(t, 'consumer', env)

  const tally = { likes: 0, reads: 0, cold: 0, notYet: 0, gaps: 0, created: 0, pauses: 0, pausedMs: 0, failures: [] as string[] }
  /** Fills of post entries by both replicas. */
  const fillCount = async (result: string): Promise<number> =>
    (await Promise.all(replicas.map(async (r) => await metricValue(r.metrics.cacheFills, { entity: 'post', result })))).reduce((a, b) => a + b, 0)
  const fillsBefore = { stored: await fillCount('stored'), rejected: await fillCount('rejected') }
  const likers = Array.from({ length: LIKERS }, () => loop(async () => {
    const id = rand.pick(posts)
    const kind = rand.int(3) === 0 ? 'dislike' : 'like'
    const res = await post(replica(), `/posts/${id}/${kind}`)
    if (res.statusCode === 200) tally.likes++
    else tally.failures.push(`${kind} ${id}: ${res.statusCode}`)
  }))
  const readers = Array.from({ length: READERS }, () => loop(async () => {
    const newest = posts.at(-1)!
    const roll = rand.int(10)
    // 3 in 10 read one of the newest posts (likely cold), 1 in 10 an id just past the newest (absent for now).
    const id = roll < 3 ? newest - rand.int(10) : roll === 3 ? newest + 1 + rand.int(3) : rand.pick(posts)
    if (roll <= 3) tally.cold++
    const res = await replica().inject(`/get_server/posts/${id}`)
    tally.reads++
    // A post created mid-storm may read 404 until its create event replaces the negative entry an earlier read of
    // its id left (design invariant 5: briefly, and a create overrides it); a post from before the storm never may.
    if (res.statusCode === 404 && id > lastBefore) tally.notYet++
    else if (res.statusCode === 404 && !before.has(id)) tally.gaps++
    else if (res.statusCode !== 200) tally.failures.push(`read ${id}: ${res.statusCode}`)
    await sleep(rand.int(4)) // in-process reads are cheap enough to starve the writers' event loop otherwise
  }))
  const creator = loop(async () => {
    if (tally.created >= MAX_NEW_POSTS) { await sleep(100); return }
    posts.push((await createPost(replica(), uid, `new${tally.created}`)).post_id)
    tally.created++
    await sleep(rand.int(150))
  })
  // The consumer stalls at random: stopped for up to 1.5 s (well inside its 10 s session), then runs a little.
  const pauser = loop(async () => {
    const ms = 100 + rand.int(1400)
    consumer.child.kill('SIGSTOP')
    await sleep(ms)
    consumer.child.kill('SIGCONT')
    tally.pauses++
    tally.pausedMs += ms
    await sleep(200 + rand.int(600))
  })

  await sleep(STORM_MS)
  await Promise.all([...likers, ...readers, creator, pauser].map(async (l) => { await l.stop() }))
  consumer.child.kill('SIGCONT')
  await waitCaughtUp(kafkaFor(config), config.consumerGroup, config.eventsTopic, 60_000)

  const result = await compareCache(redis, db, { post: posts, user: [uid] })
  const fills = {
    stored: await fillCount('stored') - fillsBefore.stored,
    rejected: await fillCount('rejected') - fillsBefore.rejected
  }
  figure(t, 'race-storm', `keys checked ${result.checked}, stale ${result.stale.length}, missing ${result.missing.length} ` +
    `(seed ${SEED}: ${tally.likes} reactions, ${tally.reads} reads of which ${tally.cold} aimed cold and ${tally.notYet} found a new post not yet applied, ${tally.gaps} an id no post has, ${tally.created} posts created mid-storm, ` +
    `${fills.stored} fills stored, ${fills.rejected} refused by the version CAS, consumer paused ${tally.pauses} times for ${tally.pausedMs} ms)`)
  t.same(tally.failures, [], 'every like answered, and every read of a post from before the storm')
  t.ok(tally.pauses >= 5, 'the consumer really stalled, repeatedly')
  t.ok(fills.stored > 0, 'cold reads filled the cache, racing the consumer')
  t.same(result.stale, [], 'stale 0: every cached key equals MongoDB')
  t.same(result.missing, [], 'and the consumer left no key uncached')
  t.equal(consumer.child.exitCode, null, 'the consumer survived its stalls')
})
