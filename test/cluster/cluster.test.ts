// `npm run cluster`: the compose topology as local processes behind the real router (nginx, from compose's own
// routing file, each role run with compose's flags: writes need a token, as there), brought up once with two replicas
// of every role (near caches on; tokens checked in-process, IDENTITY_MODE=local), then the rules that must hold
// across replicas: reactions exact over two write replicas; an Idempotency-Key replayed by the other write replica; a
// write replica SIGKILLed in the middle of a burst of creates loses no acknowledged create; a consumer killed and
// started again mid-stream leaves no stale key; read replicas converge; then down.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mintToken } from '../../src/identity/token.js'
import { ROOT, converged, dropNamespace, figure, isolatedEnv, loop, sleep, stores, testConfig, waitFor } from '../helper/index.js'

const exec = promisify(execFile)
/** Far from 8080, so a developer's own cluster or `npm run dev` can keep running. */
const PORT = 18080
const BASE = `http://127.0.0.1:${PORT}`

interface Reply { status: number, json: any, headers: Headers }

/** The token every request carries (set once the test's user exists); a request can override or drop it. */
let bearer: Record<string, string> = {}

/** One request; a connection the router or a replica dropped is status 0 (not acknowledged). */
async function call (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  try {
    const res = await fetch(base + path, { method, headers: { ...bearer, ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) }, ...(body !== undefined && { body: JSON.stringify(body) }) })
    return { status: res.status, json: await res.json(), headers: res.headers }
  } catch {
    return { status: 0, json: null, headers: new Headers() }
  }
}

t.test('a cluster of two replicas per role behind the router', async (t) => {
  // The replicas' logs say when they are ready; near caches on, so read replicas must converge through them too.
  const env = isolatedEnv({ LOG_LEVEL: 'info', NEAR_CACHE_ENTRIES: '10000', IDENTITY_MODE: 'local' })
  const config = testConfig({}, env)
  const cluster = async (...args: string[]): Promise<string> =>
    (await exec('npm', ['run', '--silent', 'cluster', '--', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 240_000, maxBuffer: 256 * 1024 * 1024 })).stdout
  t.teardown(async () => {
    await cluster('down').catch(() => '')
    await dropNamespace(config)
  })
  const { redis, db } = await stores(t, config)

  const upOut = await cluster('up', '--read', '2', '--write', '2', '--consumer', '2', '--port', String(PORT))
  t.match(upOut, /\[cluster\] write\.2 ready/, 'progress lines as each replica gets ready')
  t.match(upOut, new RegExp(`router on ${BASE}`))
  const lines = (await cluster('status')).trim().split('\n')
  t.same(lines.map((l) => l.split(' ')[0]), ['read.1', 'read.2', 'write.1', 'write.2', 'consumer.1', 'consumer.2', 'router'])
  for (const line of lines) t.match(line, /^[a-z]+(\.\d+)? \d+ http:\/\/127\.0\.0\.1:\d+ ready$/, `status: ${line}`)
  const urls = Object.fromEntries(lines.map((l) => [l.split(' ')[0]!, l.split(' ')[2]!]))
  t.match(await cluster('up', '--read', '2', '--write', '2', '--consumer', '2', '--port', String(PORT)), /write\.2 ready/, 'up again is harmless')

  const tokenFor = async (subject: string): Promise<string> => `Bearer ${await mintToken(config.token, subject, 3600)}`
  t.equal((await call(BASE, 'POST', '/post_server/users', { username: 'nobody' })).status, 401, 'a write without a token is refused, as compose runs it')
  bearer = { authorization: await tokenFor('cluster-admin') }
  const user = await call(BASE, 'POST', '/post_server/users', { username: 'cluster' })
  t.equal(user.status, 201)
  const uid: number = user.json.user_id
  t.equal((await call(BASE, 'POST', '/post_server/posts', { user_id: uid, title: 'not mine', content: 'c' })).status, 403, 'nor can a post be made as someone else')
  bearer = { authorization: await tokenFor(String(uid)) }
  const created = await call(BASE, 'POST', '/post_server/posts', { user_id: uid, title: 'hot', content: 'liked through two write replicas' })
  t.equal(created.status, 201)
  const hot: number = created.json.post_id

  await t.test('the router sends a post\'s reactions to one write replica, and other writes to both', async (t) => {
    const likesOn = async (name: string): Promise<number> => {
      const text = await (await fetch(`${urls[name]!}/metrics`)).text()
      return [...text.matchAll(/^pb_http_requests_total\{[^}]*route="\/post_server\/posts\/:id\/like"[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0)
    }
    const before = [await likesOn('write.1'), await likesOn('write.2')]
    for (let i = 0; i < 20; i++) t.equal((await call(BASE, 'POST', `/post_server/posts/${hot}/like`)).status, 200)
    const added = [await likesOn('write.1') - before[0]!, await likesOn('write.2') - before[1]!].sort((a, b) => a - b)
    t.same(added, [0, 20], 'all 20 likes of one post reached the same replica (a consistent hash of its id)')
  })

  await t.test('reactions through two write replicas are all stored, and every read replica sees them', async (t) => {
    // Sent to both write replicas directly, as happens while the router's hash moves a post (a replica joining or
    // leaving): on the local FerretDB their updates of one post take turns through the document lease, none is lost.
    const before = (await db.collection<{ _id: number, like_count: number }>('posts').findOne({ _id: hot }))!.like_count
    const likes = await Promise.all(Array.from({ length: 200 }, async (_, i) => await call(urls[`write.${i % 2 + 1}`]!, 'POST', `/post_server/posts/${hot}/like`)))
    t.same([...new Set(likes.map((r) => r.status))], [200], '200 likes accepted')
    const total = before + 200
    t.match(await db.collection<{ _id: number }>('posts').findOne({ _id: hot }), { like_count: total, version: total + 1 }, 'and all 200 stored')
    for (const name of ['read.1', 'read.2']) {
      await waitFor(`${name} to answer ${total} likes`, async () => (await call(urls[name]!, 'GET', `/get_server/posts/${hot}`)).json?.like_count === total, 30_000)
      t.pass(`${name} (near cache on) converged on ${total}`)
    }
    t.same(await redis.keys(`${config.redisKeyPrefix}lease:*`), [], 'no document lease left behind')
  })

  await t.test('every read replica\'s list page, its ids kept near, shows a new post', async (t) => {
    const firstPage = async (name: string): Promise<number[]> =>
      ((await call(urls[name]!, 'GET', '/get_server/posts?limit=5')).json?.items as Array<{ post_id: number }>).map((p) => p.post_id)
    // Read twice: the second page comes from each replica's process memory (its near cache keeps the page's ids).
    for (const name of ['read.1', 'read.2']) for (let i = 0; i < 2; i++) t.equal((await firstPage(name))[0], hot, `${name} lists the newest post first`)
    const made = await call(BASE, 'POST', '/post_server/posts', { user_id: uid, title: 'listed', content: 'c' })
    t.equal(made.status, 201)
    for (const name of ['read.1', 'read.2']) {
      await waitFor(`${name} to list the new post`, async () => (await firstPage(name))[0] === made.json.post_id, 30_000)
      t.same((await firstPage(name)).slice(0, 2), [made.json.post_id, hot], `${name} converged: the new post, then the one before it`)
    }
  })

  await t.test('an Idempotency-Key used on one write replica is replayed by the other', async (t) => {
    const key = { 'idempotency-key': 'cluster-replay-1' }
    const first = await call(urls['write.1']!, 'POST', '/post_server/posts', { user_id: uid, title: 'once', content: 'only once' }, key)
    t.equal(first.status, 201)
    const again = await call(urls['write.2']!, 'POST', '/post_server/posts', { user_id: uid, title: 'once', content: 'only once' }, key)
    t.equal(again.status, 201)
    t.equal(again.headers.get('idempotent-replayed'), 'true')
    t.same(again.json, first.json, 'the first answer, not a second post')
    t.equal(await db.collection('posts').countDocuments({ title: 'once' }), 1)
  })

  await t.test('a write replica SIGKILLed amid a burst of creates loses no acknowledged create', async (t) => {
    // Sixteen clients creating nonstop, so batches are in flight on both replicas when one is killed.
    const replies: Reply[] = []
    let i = 0
    const creators = Array.from({ length: 16 }, () => loop(async () => {
      replies.push(await call(BASE, 'POST', '/post_server/posts', { user_id: uid, title: `burst ${i++}`, content: 'c' }))
    }))
    await sleep(700)
    await cluster('kill', 'write.1')
    await sleep(700)
    await Promise.all(creators.map(async (c) => { await c.stop() }))
    const acked = replies.filter((r) => r.status === 201).map((r) => r.json.post_id as number)
    const refused = replies.length - acked.length
    t.ok(acked.length > 0, `${acked.length} of ${replies.length} acknowledged`)
    t.ok(replies.every((r) => [201, 502, 503, 0].includes(r.status)), `the other ${refused} were refused (the killed replica's in flight), never answered wrongly`)
    t.equal(new Set(acked).size, acked.length, 'every acknowledged id is unique')
    const stored = await db.collection<{ _id: number }>('posts').find({ _id: { $in: acked } }).toArray()
    t.equal(stored.length, acked.length, 'every acknowledged create is in MongoDB')
    // Its events reach the cache even when the replica that made them died before publishing: the other replica's
    // relay publishes the dead one's journal entries after their grace period.
    const result = await converged(redis, db, { post: acked }, 30_000)
    figure(t, 'cluster-create-kill', `acknowledged ${acked.length} of ${replies.length} (refused ${refused}), stored ${stored.length}, cached ${result.checked - result.missing.length - result.stale.length}, missing ${result.missing.length}, stale ${result.stale.length}`)
    t.same(result.missing, [], 'every acknowledged create reached the cache through Kafka')
    t.same(result.stale, [])
    await cluster('start', 'write.1')
    await waitFor('write.1 ready again', async () => /^write\.1 \d+ \S+ ready$/m.test(await cluster('status')), 60_000)
    const after = await call(BASE, 'POST', '/post_server/posts', { user_id: uid, title: 'after the kill', content: 'c' })
    t.equal(after.status, 201)
    t.ok(after.json.post_id > Math.max(hot, ...acked), 'ids are never reused after a restart')
  })

  await t.test('a consumer killed and started again mid-stream leaves no stale key', async (t) => {
    const posts = (await Promise.all(Array.from({ length: 10 }, async (_, i) => await call(BASE, 'POST', '/post_server/posts', { user_id: uid, title: `stream ${i}`, content: 'c' })))).map((r) => r.json.post_id as number)
    let n = 0
    const likers = Array.from({ length: 4 }, () => loop(async () => { await call(BASE, 'POST', `/post_server/posts/${posts[n++ % posts.length]!}/like`) }))
    await sleep(500)
    await cluster('kill', 'consumer.1')
    await sleep(1500)
    await cluster('start', 'consumer.1')
    await sleep(1000)
    await Promise.all(likers.map(async (l) => { await l.stop() }))
    const result = await converged(redis, db, { post: posts }, 60_000)
    figure(t, 'cluster-consumer-kill', `likes ${n}, keys ${result.checked}, missing ${result.missing.length}, stale ${result.stale.length}`)
    t.same(result.stale, [], 'every cached post equals MongoDB')
    t.same(result.missing, [])
  })

  await t.test('SIGKILL while the router keeps taking writes; start again; down', async (t) => {
    await cluster('kill', 'write.2')
    t.match(await cluster('status'), /^write\.2 - http:\/\/127\.0\.0\.1:\d+ down$/m, 'SIGKILLed')
    // A POST the router had already sent to the dead replica (on a kept-alive connection) is a 502 and is not retried
    // (writes never are: the client retries with its Idempotency-Key); the router then stops sending it there.
    const before = (await db.collection<{ _id: number, like_count: number }>('posts').findOne({ _id: hot }))!.like_count
    const during: number[] = []
    for (let i = 0; i < 30; i++) during.push((await call(BASE, 'POST', `/post_server/posts/${hot}/like`)).status)
    t.ok(during.every((s) => s === 200 || s === 502), `answered 200, or 502 when it reached the dead replica (${during.filter((s) => s === 502).length} of 30)`)
    t.same([...new Set(during.slice(-10))], [200], 'the router takes writes on the replica that is left')
    t.equal((await db.collection<{ _id: number, like_count: number }>('posts').findOne({ _id: hot }))!.like_count - before,
      during.filter((s) => s === 200).length, 'exactly the acknowledged likes were stored')
    await cluster('start', 'write.2')
    await waitFor('write.2 ready again', async () => /^write\.2 \d+ \S+ ready$/m.test(await cluster('status')), 60_000)
    t.pass('started again on its port')
    t.match(await cluster('logs', 'write.2'), /postboard ready/, 'its log')
    await cluster('down')
    for (const line of (await cluster('status')).trim().split('\n')) t.match(line, / down$/, `after down: ${line}`)
  })
})
