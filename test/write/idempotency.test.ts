// Idempotency-Key: a retry gets the first response and creates nothing; a different request under the same key is a
// 422; a request still in flight is a 409; keys expire (a sweep, since FerretDB v1 has no TTL index).
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { MongoClient } from 'mongodb'
import { buildApp } from '../../src/app.js'
import { REPLAYED_HEADER } from '../../src/write/idempotency.js'
import { mintToken } from '../../src/identity/token.js'
import { sweepExpiredKeys } from '../../src/store/idempotency-keys.js'
import { build, createPost, createUser, dbOf, dropNamespace, post, testConfig, waitFor } from '../helper/index.js'

const keys = (app: FastifyInstance) => dbOf(app).collection<{ _id: string, state: string, locked_at: Date, expires_at: Date }>('idempotency_keys')
const count = async (app: FastifyInstance, name: string): Promise<number> => await dbOf(app).collection(name).countDocuments()

t.test('a retried create returns the first result and creates nothing', async (t) => {
  const app = await build(t, { role: 'write' })
  const headers = { 'idempotency-key': 'create-alice-1' }
  const first = await post(app, '/users', { username: 'alice' }, headers)
  t.equal(first.statusCode, 201)
  t.equal(first.headers[REPLAYED_HEADER], undefined, 'the first answer is not a replay')
  const again = await post(app, '/users', { username: 'alice' }, headers)
  t.equal(again.statusCode, 201, 'a retry is answered 201 again, not 409')
  t.equal(again.headers[REPLAYED_HEADER], 'true')
  t.same(again.json(), first.json(), 'with the same body')
  t.equal(again.headers.etag, '"u1-v1"', 'and the ETag of the version the first request produced')
  t.equal(await count(app, 'users'), 1, 'one user')
  t.equal((await createUser(app, 'bob')).user_id, 2, 'the retry did not even use an id')

  const reordered = await post(app, '/posts', { title: 'T', content: 'C', user_id: 1 }, { 'idempotency-key': 'post-1' })
  const sameInOtherOrder = await post(app, '/posts', { user_id: 1, content: 'C', title: 'T' }, { 'idempotency-key': 'post-1' })
  t.equal(sameInOtherOrder.headers[REPLAYED_HEADER], 'true', 'key order in the body does not make a different request')
  t.same(sameInOtherOrder.json(), reordered.json())
  t.equal(await count(app, 'posts'), 1)
})

t.test('a retried like is counted once', async (t) => {
  const app = await build(t, { role: 'write' })
  const { post_id: pid } = await createPost(app, (await createUser(app, 'u')).user_id)
  const headers = { 'idempotency-key': 'like-once' }
  const results = []
  for (let i = 0; i < 3; i++) results.push(await post(app, `/posts/${pid}/like`, undefined, headers))
  t.same(results.map((r) => [r.statusCode, r.json<{ like_count: number }>().like_count]), [[200, 1], [200, 1], [200, 1]])
  t.same(results.map((r) => r.headers[REPLAYED_HEADER]), [undefined, 'true', 'true'])
  t.same(results.map((r) => r.headers.etag), Array(3).fill(`"p${pid}-v2"`), 'every replay answers the version the like produced')
  t.match(await dbOf(app).collection<{ _id: number }>('posts').findOne({ _id: pid }), { like_count: 1, version: 2 })
  const other = await post(app, `/posts/${pid}/like`, undefined, { 'idempotency-key': 'like-twice' })
  t.equal(other.json<{ like_count: number }>().like_count, 2, 'a new key is a new like')
})

t.test('the same key for a different request is a 422, and changes nothing', async (t) => {
  const app = await build(t, { role: 'write' })
  const headers = { 'idempotency-key': 'reused' }
  t.equal((await post(app, '/users', { username: 'first' }, headers)).statusCode, 201)
  const otherBody = await post(app, '/users', { username: 'second' }, headers)
  t.equal(otherBody.statusCode, 422)
  t.match(otherBody.json(), { statusCode: 422, error: 'Unprocessable Entity', message: /already used for a different request/ })
  const otherRoute = await post(app, '/posts', { user_id: 1, title: 'T', content: 'C' }, headers)
  t.equal(otherRoute.statusCode, 422, 'another endpoint is another request too')
  t.equal(await count(app, 'users'), 1)
  t.equal(await count(app, 'posts'), 0)
})

t.test('a 4xx is replayed too; the key is the caller\'s record of what happened', async (t) => {
  const app = await build(t, { role: 'write' })
  await createUser(app, 'taken')
  const headers = { 'idempotency-key': 'dup-name' }
  const first = await post(app, '/users', { username: 'taken' }, headers)
  t.equal(first.statusCode, 409)
  const again = await post(app, '/users', { username: 'taken' }, headers)
  t.equal(again.statusCode, 409)
  t.equal(again.headers[REPLAYED_HEADER], 'true')
  t.same(again.json(), first.json(), 'the same error body')
  const absent = await post(app, '/posts/999/like', undefined, { 'idempotency-key': 'absent' })
  t.equal(absent.statusCode, 404)
  t.equal((await post(app, '/posts/999/like', undefined, { 'idempotency-key': 'absent' })).statusCode, 404)
})

t.test('in flight: concurrent retries create one entity; a running request is a 409; an abandoned one is taken over', async (t) => {
  const app = await build(t, { role: 'write' })
  const headers = { 'idempotency-key': 'burst' }
  const results = await Promise.all(Array.from({ length: 10 }, async () => await post(app, '/users', { username: 'once' }, headers)))
  const fresh = results.filter((r) => r.statusCode === 201 && r.headers[REPLAYED_HEADER] === undefined)
  const conflicts = results.filter((r) => r.statusCode === 409)
  t.equal(fresh.length, 1, 'exactly one request ran')
  t.ok(results.every((r) => r.statusCode === 201 || r.statusCode === 409), 'the others were replays or told to wait')
  for (const r of conflicts) t.match(r.json(), { error: 'Conflict', message: /still in progress/ })
  t.equal(await count(app, 'users'), 1)

  // Another replica is still working on this key: the stored record says so.
  const { post_id: pid } = await createPost(app, 1)
  const likeKey = { 'idempotency-key': 'slow-like' }
  t.equal((await post(app, `/posts/${pid}/like`, undefined, likeKey)).statusCode, 200)
  const id = 'slow-like'
  await keys(app).updateOne({ _id: id }, { $set: { state: 'in_flight', locked_at: new Date() }, $unset: { status: '', body: '' } })
  const running = await post(app, `/posts/${pid}/like`, undefined, likeKey)
  t.equal(running.statusCode, 409)
  t.match(running.json(), { message: /still in progress/ })

  // That replica died: after the lease the key is free again and the request runs.
  await keys(app).updateOne({ _id: id }, { $set: { locked_at: new Date(Date.now() - 120_000) } })
  const takenOver = await post(app, `/posts/${pid}/like`, undefined, likeKey)
  t.equal(takenOver.statusCode, 200)
  t.equal(takenOver.json<{ like_count: number }>().like_count, 2, 'it ran (the first like never stored a response)')
  t.match(await keys(app).findOne({ _id: id }), { state: 'done' })
})

t.test('keys expire: an expired key runs afresh, and the sweep deletes expired keys', async (t) => {
  const app = await build(t, { role: 'write' })
  const { post_id: pid } = await createPost(app, (await createUser(app, 'u')).user_id)
  const headers = { 'idempotency-key': 'short-lived' }
  await post(app, `/posts/${pid}/like`, undefined, headers)
  const record = await keys(app).findOne({ _id: 'short-lived' })
  const ttl = (record!.expires_at.getTime() - record!.locked_at.getTime()) / 1000
  t.equal(ttl, app.config.idempotencyTtlSeconds, 'kept for config.idempotencyTtlSeconds')

  await keys(app).updateOne({ _id: 'short-lived' }, { $set: { expires_at: new Date(Date.now() - 1000) } })
  const after = await post(app, `/posts/${pid}/like`, undefined, headers)
  t.equal(after.headers[REPLAYED_HEADER], undefined, 'not a replay')
  t.equal(after.json<{ like_count: number }>().like_count, 2, 'an expired key no longer protects')

  await keys(app).insertOne({ _id: 'old', state: 'done', locked_at: new Date(0), expires_at: new Date(1000) })
  t.equal(await app.runWrite((db) => sweepExpiredKeys(db)), 1, 'the sweep removes the expired key')
  t.equal(await keys(app).countDocuments(), 1, 'and keeps the live one')
})

t.test('the relay sweeps expired keys when a write replica starts', async (t) => {
  const config = testConfig({ role: 'write' })
  t.teardown(async () => { await dropNamespace(config) })
  const mongo = new MongoClient(config.mongoUrl)
  await mongo.connect()
  t.teardown(async () => { await mongo.close() })
  const col = mongo.db(config.mongoDatabase).collection<{ _id: string, state: string, locked_at: Date, expires_at: Date }>('idempotency_keys')
  await col.insertOne({ _id: 'stale', state: 'done', locked_at: new Date(0), expires_at: new Date(1000) })
  const app = await buildApp(config, { logger: false })
  t.teardown(async () => { await app.close() })
  await app.ready()
  await waitFor('the sweep', async () => await col.countDocuments() === 0, 10_000)
  t.pass('swept')
})

t.test('under --auth-writes each caller has keys of their own', async (t) => {
  const app = await build(t, { role: 'write', authWrites: true }, { IDENTITY_MODE: 'local' })
  const bearer = async (subject: string) => ({ authorization: `Bearer ${await mintToken(app.config.token, subject, 600)}` })
  const key = { 'idempotency-key': 'my-first-user' }
  const one = await post(app, '/users', { username: 'one' }, { ...await bearer('1'), ...key })
  const two = await post(app, '/users', { username: 'two' }, { ...await bearer('2'), ...key })
  t.same([one.statusCode, two.statusCode], [201, 201], 'the same key from two callers is two requests, not a mismatch')
  const retry = await post(app, '/users', { username: 'one' }, { ...await bearer('1'), ...key })
  t.equal(retry.headers[REPLAYED_HEADER], 'true')
  t.same(retry.json(), one.json(), 'and each caller replays their own')
  t.equal(await count(app, 'users'), 2)
})
