// Fault: consumers SIGKILLed mid-stream and restarted, while likes keep flowing through the write path. Two consumer
// processes share the group; each is killed in turn and replaced. A monitor samples every cached post throughout:
// a version must never go back, and each entry's data must be that version's (likes + dislikes = version - 1). At the
// end every post is cached at its stored version with every accepted reaction. Figure: lost, out of order.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { entityKey } from '../../src/cache/keys.js'
import { appsOn, converged, createPost, createUser, entryOf, figure, kafkaFor, loop, namespace, post, prng, type Role, sleep, startRole, stores } from '../helper/index.js'

const POSTS = 30
const WRITERS = 4

t.test('consumers SIGKILLed mid-stream and restarted: nothing lost, nothing applied out of version order', async (t) => {
  const { env, config } = namespace(t, 'write')
  const [writer] = await appsOn(t, config) as [FastifyInstance]
  const { redis, db } = await stores(t, config)

  const consumers: Role[] = await Promise.all([startRole(t, 'consumer', env), startRole(t, 'consumer', env)])
  const { user_id: uid } = await createUser(writer, 'consumer-kill')
  const posts: number[] = []
  for (let i = 0; i < POSTS; i++) posts.push((await createPost(writer, uid, `k${i}`)).post_id)

  // The monitor: every 20 ms, every post's cached version and data.
  const last = new Map<number, number>()
  const violations: string[] = []
  let samples = 0
  const monitor = loop(async () => {
    const replies = await redis.pipeline(posts.map((id) => ['hmget', entityKey('post', id), 'v', 'd'])).exec()
    for (const [i, [err, reply]] of (replies ?? []).entries()) {
      const [v, d] = reply as [string | null, string | null]
      if (err !== null || v === null || d === null) continue
      const id = posts[i]!
      const version = Number(v)
      const data = JSON.parse(d) as { like_count: number, dislike_count: number }
      samples++
      if (version < (last.get(id) ?? 0)) violations.push(`post ${id}: v${version} after v${last.get(id)!}`)
      if (data.like_count + data.dislike_count !== version - 1) violations.push(`post ${id}: v${version} holds ${data.like_count}+${data.dislike_count} reactions`)
      last.set(id, Math.max(version, last.get(id) ?? 0))
    }
    await sleep(20)
  })

  const accepted = new Map(posts.map((id) => [id, { like: 0, dislike: 0 }]))
  const refused: string[] = []
  const rand = prng(11)
  const load = Array.from({ length: WRITERS }, () => loop(async () => {
    const id = rand.pick(posts)
    const kind = rand.int(4) === 0 ? 'dislike' : 'like'
    const res = await post(writer, `/posts/${id}/${kind}`)
    if (res.statusCode === 200) accepted.get(id)![kind]++
    else refused.push(`${kind} ${id}: ${res.statusCode}`)
  }))
  const total = (): number => [...accepted.values()].reduce((sum, a) => sum + a.like + a.dislike, 0)

  // Kill one member, replace it, then kill the other and replace it, all while the load runs.
  const kills: string[] = []
  for (const i of [0, 1]) {
    await sleep(2500)
    const victim = consumers[i]!
    const before = total()
    victim.child.kill('SIGKILL')
    const [, signal] = await new Promise<[number | null, string | null]>((resolve) => victim.child.once('exit', (code, sig) => resolve([code, sig])))
    kills.push(`consumer ${i} ${String(signal)} after ${before} reactions`)
    await sleep(1000)
    consumers[i] = await startRole(t, 'consumer', env)
  }
  await sleep(2500)
  await Promise.all(load.map(async (l) => { await l.stop() }))
  const reactions = total()

  const result = await converged(redis, db, { post: posts, user: [uid] }, 60_000)
  await monitor.stop()
  const miscounted: string[] = []
  for (const id of posts) {
    const entry = await entryOf(redis, 'post', id)
    const got = entry === null ? null : JSON.parse(entry.d) as { like_count: number, dislike_count: number }
    const want = accepted.get(id)!
    if (got?.like_count !== want.like || got.dislike_count !== want.dislike) {
      miscounted.push(`post ${id}: cached ${got?.like_count ?? '-'}/${got?.dislike_count ?? '-'}, accepted ${want.like}/${want.dislike}`)
    }
  }
  const admin = kafkaFor(config).admin()
  await admin.connect()
  const dlq = await admin.fetchTopicOffsets(config.dlqTopic)
  await admin.disconnect()
  const lost = result.missing.length + result.stale.length + miscounted.length

  figure(t, 'consumer-kill', `${reactions} reactions on ${POSTS} posts, ${kills.length} SIGKILLs mid-stream, ` +
    `converged ${POSTS - miscounted.length}/${POSTS} posts, lost ${lost}, out of order ${violations.length} (${samples} samples)`)
  t.equal(kills.length, 2, kills.join('; '))
  t.ok(kills.every((k) => k.includes('SIGKILL')), 'each consumer was killed, not stopped')
  t.same(refused, [], 'every reaction was accepted')
  t.same(result.stale, [], 'every post is cached at its stored version')
  t.same(result.missing, [], 'and none is missing')
  t.same(miscounted, [], 'each cached post counts exactly the reactions accepted')
  t.equal(lost, 0, 'lost 0')
  t.same(violations, [], 'no version went back and no entry held another version\'s data')
  t.ok(dlq.every((p) => p.high === '0'), 'nothing dead-lettered')
  for (const c of consumers) t.equal(c.child.exitCode, null, 'the replacement consumers are running')
})
