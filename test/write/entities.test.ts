// Creating users and posts, reactions, ids and versions, and the rules that must hold under concurrency: one winner
// per username, every like counted, ids unique and never reused.
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { build, createPost, createUser, dbOf, dropNamespace, post, stores, testConfig, waitFor } from '../helper/index.js'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('users: 201 with the user, version 1, and a duplicate name is a 409', async (t) => {
  const app = await build(t, { role: 'write' })
  const res = await post(app, '/users', { username: 'alice' })
  t.equal(res.statusCode, 201)
  const user = res.json<{ user_id: number, username: string, created_at: string }>()
  t.same(Object.keys(user).sort(), ['created_at', 'user_id', 'username'], 'exactly the user fields')
  t.match(user, { user_id: 1, username: 'alice', created_at: ISO })
  t.equal(res.headers.etag, '"u1-v1"', 'the ETag of the version the create produced')
  const doc = await dbOf(app).collection<{ _id: number }>('users').findOne({ _id: user.user_id })
  t.match(doc, { username: 'alice', version: 1 })

  const dup = await post(app, '/users', { username: 'alice' })
  t.equal(dup.statusCode, 409)
  t.same(dup.json(), { statusCode: 409, error: 'Conflict', message: "username 'alice' is already taken" })
  t.equal((await post(app, '/users', { username: 'Alice' })).statusCode, 201, 'names are case-sensitive')
  t.equal((await post(app, '/users', { username: 'u'.repeat(50) })).statusCode, 201, '50 characters are allowed')
})

t.test('concurrent requests for one username: exactly one 201', async (t) => {
  const app = await build(t, { role: 'write' })
  const results = await Promise.all(Array.from({ length: 20 }, async () => await post(app, '/users', { username: 'racer' })))
  const codes = results.map((r) => r.statusCode).sort()
  t.equal(codes.filter((c) => c === 201).length, 1, 'one winner')
  t.equal(codes.filter((c) => c === 409).length, 19, 'everyone else is told the name is taken')
  t.equal(await dbOf(app).collection('users').countDocuments({ username: 'racer' }), 1, 'one document')
})

t.test('ids auto-increment, stay unique under concurrency, and are never reused after a restart', async (t) => {
  const config = testConfig({ role: 'write' })
  t.teardown(async () => { await dropNamespace(config) })
  const first = await buildApp(config, { logger: false })
  await first.ready()
  const made = await Promise.all(Array.from({ length: 30 }, async (_, i) => await createUser(first, `user${i}`)))
  const ids = made.map((u) => u.user_id).sort((a, b) => a - b)
  t.same(ids, Array.from({ length: 30 }, (_, i) => i + 1), '30 concurrent creates got ids 1..30, each once')
  const posts = await Promise.all(Array.from({ length: 10 }, async (_, i) => await createPost(first, 1, `p${i}`)))
  t.same(posts.map((p) => p.post_id).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 1), 'posts count separately')
  t.equal(first.store.locks.size, 0, 'no document lock is left behind')
  await first.close()

  const second = await buildApp(config, { logger: false })
  t.teardown(async () => { await second.close() })
  await second.ready()
  t.equal((await createUser(second, 'after-restart')).user_id, 31, 'the counter lives in MongoDB, not in the process')
  t.equal((await createPost(second, 1)).post_id, 11)
})

t.test('a counter that went back (an increment lost between replicas on FerretDB) never reuses an id', async (t) => {
  const app = await build(t, { role: 'write' })
  for (const name of ['one', 'two', 'three']) await createUser(app, name)
  await dbOf(app).collection<{ _id: string, seq: number }>('counters').updateOne({ _id: 'users' }, { $set: { seq: 1 } })
  t.equal((await createUser(app, 'four')).user_id, 4, 'ids 2 and 3 are taken, so the next free one is used')
  t.same((await dbOf(app).collection('users').find().sort({ _id: 1 }).toArray()).map((u) => u.username),
    ['one', 'two', 'three', 'four'], 'no user was overwritten')
})

t.test('posts: 201 with the whole post; reactions: 200 with the post after the change', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'author')
  const res = await post(app, '/posts', { user_id: uid, title: 'Hello', content: 'First post' })
  t.equal(res.statusCode, 201)
  const created = res.json<{ post_id: number }>()
  t.same(Object.keys(created).sort(), ['content', 'created_at', 'dislike_count', 'like_count', 'post_id', 'title', 'user_id'])
  t.match(created, { post_id: 1, user_id: uid, title: 'Hello', content: 'First post', like_count: 0, dislike_count: 0, created_at: ISO })
  t.equal(res.headers.etag, '"p1-v1"', 'a create answers the ETag of version 1')

  const liked = await post(app, `/posts/${created.post_id}/like`)
  t.equal(liked.statusCode, 200)
  t.same(liked.json(), { ...created, like_count: 1 })
  t.equal(liked.headers.etag, '"p1-v2"', 'a reaction answers the ETag of the version it produced')
  const disliked = await post(app, `/posts/${created.post_id}/dislike`)
  t.equal(disliked.statusCode, 200)
  t.same(disliked.json(), { ...created, like_count: 1, dislike_count: 1 })
  t.equal(disliked.headers.etag, '"p1-v3"')
  const doc = await dbOf(app).collection<{ _id: number }>('posts').findOne({ _id: created.post_id })
  t.match(doc, { like_count: 1, dislike_count: 1, version: 3 }, 'every change moved the version by one')
  t.equal((await post(app, '/posts/99/like')).headers.etag, undefined, 'no ETag on an error')
})

t.test('100 concurrent likes: exactly 100, each answered with its own count', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'popular')
  const { post_id: pid } = await createPost(app, uid)
  const results = await Promise.all(Array.from({ length: 100 }, async () => await post(app, `/posts/${pid}/like`)))
  t.ok(results.every((r) => r.statusCode === 200), 'all 200')
  const counts = results.map((r) => r.json<{ like_count: number }>().like_count).sort((a, b) => a - b)
  t.same(counts, Array.from({ length: 100 }, (_, i) => i + 1), 'each like saw a distinct count, 1..100')
  t.ok(results.every((r) => r.headers.etag === `"p${pid}-v${r.json<{ like_count: number }>().like_count + 1}"`),
    'each answered the ETag of its own version, the one its count belongs to')
  const doc = await dbOf(app).collection<{ _id: number }>('posts').findOne({ _id: pid })
  t.match(doc, { like_count: 100, dislike_count: 0, version: 101 })
  // The published marks are cleared after the likes, without losing any of them.
  await waitFor('the pending mark to clear', async () => {
    const d = await dbOf(app).collection<{ _id: number }>('posts').findOne({ _id: pid, pending_since: { $exists: false } })
    return d ?? undefined
  }, 20_000)
  t.match(await dbOf(app).collection<{ _id: number }>('posts').findOne({ _id: pid }), { like_count: 100, version: 101 },
    'clearing the marks lost no like')
})

t.test('mixed concurrent likes and dislikes on several posts add up', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'mixer')
  const ids = [(await createPost(app, uid, 'a')).post_id, (await createPost(app, uid, 'b')).post_id]
  const requests = Array.from({ length: 60 }, (_, i) => ({ id: ids[i % 2]!, kind: i % 3 === 0 ? 'dislike' : 'like' }))
  const results = await Promise.all(requests.map(async ({ id, kind }) => await post(app, `/posts/${id}/${kind}`)))
  t.ok(results.every((r) => r.statusCode === 200))
  for (const id of ids) {
    const mine = requests.filter((r) => r.id === id)
    const doc = await dbOf(app).collection<{ _id: number }>('posts').findOne({ _id: id })
    t.match(doc, {
      like_count: mine.filter((r) => r.kind === 'like').length,
      dislike_count: mine.filter((r) => r.kind === 'dislike').length,
      version: mine.length + 1
    }, `post ${id} counted every reaction`)
  }
})

t.test('per-request write connections keep every rule', async (t) => {
  const app = await build(t, { role: 'write', writeConnections: 'per-request' })
  const { user_id: uid } = await createUser(app, 'fresh')
  t.equal((await post(app, '/users', { username: 'fresh' })).statusCode, 409)
  const { post_id: pid } = await createPost(app, uid)
  const results = await Promise.all(Array.from({ length: 20 }, async () => await post(app, `/posts/${pid}/like`)))
  t.ok(results.every((r) => r.statusCode === 200))
  const { db } = await stores(t, app.config) // the app keeps no pool of its own in this mode
  t.match(await db.collection<{ _id: number }>('posts').findOne({ _id: pid }), { like_count: 20, version: 21 })
})
