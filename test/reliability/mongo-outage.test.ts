// Fault: MongoDB stopped under load. Cached reads keep answering; every write answers 503 with the plain message and
// nothing of the driver's; once MongoDB is back writes resume, and no id handed out before, during or after the
// outage is handed out twice. Figures: cached reads answered, writes refused plainly, how soon MongoDB took a write
// again, ids reused.
import t from 'tap'
import { build, call, converged, figure, keptLogs, loop, outage, prng, seedPosts, serve, sleep, stack, storeServesWrites, stores } from '../helper/index.js'
import { findPostVersioned } from '../../src/store/read.js'
import { WriteOutcomeUnknown } from '../../src/shared/errors.js'

const POSTS = 20
const PHASE_MS = 2000
// Longer than serverSelectionTimeoutMS (3 s), so writes really fail rather than wait it out, and long enough that a
// write started after the stop (behind the writes that hung across it, and a create behind another create's counter
// update) is refused while the outage still lasts: at 4 s a slow stop once left no write that both began and ended in it.
const OUTAGE_MS = 8000
const UNAVAILABLE = { statusCode: 503, error: 'Service Unavailable', message: 'the data store is unavailable; try again shortly' }
// A write already sent when MongoDB stopped may have been applied: its 503 says so instead (src/store/outcome.ts).
const OUTCOME_UNKNOWN = { ...UNAVAILABLE, message: new WriteOutcomeUnknown().message }
const plain503 = (body: unknown): boolean => [UNAVAILABLE, OUTCOME_UNKNOWN].some((b) => JSON.stringify(body) === JSON.stringify(b))

t.test('MongoDB stopped: cached reads answer, writes 503 with no internals, then resume with no id reused', async (t) => {
  const logs = keptLogs()
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'off' }, logs)
  const { base } = await serve(app)
  const { redis, db } = await stores(t, app.config)

  const { userId, postIds: cached } = await seedPosts(base, 'mongo-outage', POSTS, 'cached')
  t.same((await converged(redis, db, { post: cached }, 30_000)).missing, [], 'the posts are cached before the outage')

  let phase: 'before' | 'down' | 'returning' | 'after' = 'before'
  // What each phase's writes answered ("after create 503 the data store is unavailable…": 12), for a failure to show.
  const outcomes: Record<string, number> = {}
  // And what the write pool's client made of MongoDB meanwhile (its monitor's heartbeats, the server's state): a
  // failure here once showed every write refused for 30 s while a fresh client wrote at once.
  const monitor: string[] = []
  const t0 = Date.now()
  const seen = (what: string): void => {
    monitor.push(`${Date.now() - t0} ms, ${phase}: ${what}`)
    if (monitor.length > 40) monitor.shift()
  }
  const client = app.mongo.write!.client
  client.on('serverHeartbeatSucceeded', () => { seen('heartbeat ok') })
  client.on('serverHeartbeatFailed', (e) => { seen(`heartbeat failed: ${e.failure.message}`) })
  client.on('serverDescriptionChanged', (e) => { seen(`server ${e.newDescription.type} ${e.newDescription.error?.message ?? ''}`.trim()) })
  const created: Array<{ id: number, phase: string, title: string }> = []
  const writes = { statusesWhileDown: [] as string[], down: 0, refusedPlainly: 0, unexpected: [] as string[], slowestRefusal: 0 }
  const reads = { down: 0, answered: 0, failures: [] as string[] }
  const rand = prng(10)
  let n = 0

  const writer = async (): Promise<void> => {
    const at = phase
    const like = rand.int(2) === 0
    const kind = like ? 'like' : 'create'
    const title = `w${n++}`
    const res = like
      ? await call(base, 'POST', `/post_server/posts/${rand.pick(cached)}/like`)
      : await call(base, 'POST', '/post_server/posts', { user_id: userId, title, content: 'during' })
    const message = res.status >= 300 ? ((res.body as { message?: string } | null)?.message ?? res.text).slice(0, 60) : ''
    const outcome = `${at} ${kind} ${res.status} ${message}`.trim()
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    if (at === 'down' && phase === 'down') { writes.down++; writes.statusesWhileDown.push(`${kind} ${res.status} ${res.ms}ms`) }
    if (res.status === 201) created.push({ id: (res.body as { post_id: number }).post_id, phase: at, title })
    else if (res.status === 503 && plain503(res.body)) {
      if (at === 'down' && phase === 'down') writes.refusedPlainly++
      writes.slowestRefusal = Math.max(writes.slowestRefusal, res.ms)
    } else if (res.status !== 200) writes.unexpected.push(`${at}: ${res.status} ${res.text.slice(0, 200)}`)
    // While MongoDB is down a 503 comes back at once or after server selection; no need to spin on it.
    if (res.status === 503) await sleep(50)
  }
  const readers = Array.from({ length: 2 }, () => loop(async () => {
    const at = phase
    const id = rand.pick(cached)
    const res = await call(base, 'GET', `/get_server/posts/${id}`, undefined, {}, 5000)
    if (at !== 'down') return
    reads.down++
    if (res.status === 200 && (res.body as { post_id: number }).post_id === id) reads.answered++
    else reads.failures.push(`${id}: ${res.status} ${res.text.slice(0, 120)}`)
  }))
  const writers = Array.from({ length: 4 }, () => loop(writer))

  await sleep(PHASE_MS)
  await outage(t, 'mongo')
  phase = 'down'
  await sleep(OUTAGE_MS)
  const uncached = await call(base, 'GET', `/get_server/posts/${Math.max(...cached) + 100_000}`)
  phase = 'returning' // a write waiting on server selection may now succeed
  await stack('up', 'mongo')
  // Back means answering writes, not only an open port: the clock for the app's own writes starts there.
  const storeBackMs = await storeServesWrites(app.config)
  phase = 'after'
  // Writes resume: wait for the first one to be accepted, then keep writing a little longer.
  const resumeBy = Date.now() + 30_000
  while (!created.some((c) => c.phase === 'after') && Date.now() < resumeBy) await sleep(100)
  await sleep(PHASE_MS)
  await Promise.all([...writers, ...readers].map(async (l) => { await l.stop() }))

  figure(t, 'mongo-outage', `cached reads answered ${reads.answered} / ${reads.down} while MongoDB was down; ` +
    `writes refused with a plain 503 ${writes.refusedPlainly} / ${writes.down} (slowest refusal ${writes.slowestRefusal} ms)`)
  t.same(reads.failures, [], 'every cached read answered 200 with its post')
  t.ok(reads.down > 50, `reads ran during the outage (${reads.down})`)
  t.equal(uncached.status, 503, 'a read MongoDB would have to answer is a 503')
  t.same(uncached.body, UNAVAILABLE, '…with the same plain message')
  t.ok(writes.down > 0, 'writes were attempted during the outage')
  t.equal(writes.refusedPlainly, writes.down, 'every write during the outage answered the plain 503', { statuses: writes.statusesWhileDown })
  t.same(writes.unexpected, [], 'no write answered anything but success or the plain 503 (no 500, no driver message)')
  // Each MongoDB operation waits out server selection (3 s) at most, but writes queued on one document's lock (every
  // create takes the id counter's) wait for the ones ahead: refusals have been seen to take 3 x 3 s.
  t.ok(writes.slowestRefusal < 15_000, `refusals come within 15 s (slowest ${writes.slowestRefusal} ms)`)

  const ids = created.map((c) => c.id)
  const reused = ids.length - new Set([...ids, ...cached]).size + cached.length
  const after = created.filter((c) => c.phase === 'after')
  figure(t, 'mongo-outage-after', `writes resumed: ${after.length} posts created after MongoDB returned ` +
    `(it took a test client's write ${storeBackMs} ms after the stack's up returned), ${ids.length} in all, ids reused ${reused}`)
  t.ok(after.length > 0, 'writes resume once MongoDB is back', { storeBackMs, outcomes, monitor, appLog: logs.lines() })
  t.equal(reused, 0, 'no id was handed out twice')
  const lastBefore = Math.max(...cached, ...created.filter((c) => c.phase !== 'after').map((c) => c.id))
  t.ok(after.every((c) => c.id > lastBefore), 'ids after the outage continue past every id handed out before it')
  for (const c of created) {
    const stored = await findPostVersioned(db, c.id)
    if (stored?.data.title !== c.title) t.fail(`post ${c.id} holds ${stored?.data.title ?? 'nothing'}, answered as ${c.title}`)
  }
  t.pass(`each of the ${created.length} created posts holds what its 201 answered`)
})
