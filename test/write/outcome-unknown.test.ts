// Writes whose answer the store lost (src/store/outcome.ts): the connection drops after the command was sent, so it
// may or may not have been applied. Lost for real on the wire by a proxy in front of MongoDB, either the answer (the
// write landed) or the command (it did not). The client gets a 503 saying so, the Idempotency-Key is held, and a
// same-key retry resolves a create exactly once; a reaction is never counted twice.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { PostDoc } from '../../src/store/collections.js'
import { REPLAYED_HEADER } from '../../src/write/idempotency.js'
import { build, createPost, createUser, dbOf, mongoCommandBytes, post, tcpProxy, type Loss, type Tap, type TcpProxy } from '../helper/index.js'

const MONGO_PORT = Number(process.env.STACK_MONGO_PORT ?? 27018)

async function appBehindProxy (t: Tap): Promise<{ proxy: TcpProxy, app: FastifyInstance }> {
  const proxy = await tcpProxy(t, { port: MONGO_PORT })
  const app = await build(t, { role: 'write' }, { MONGODB_URL: `mongodb://127.0.0.1:${proxy.port}`, RELAY_INTERVAL_MS: '600000' })
  return { proxy, app }
}

const postsOf = (app: FastifyInstance) => dbOf(app).collection<PostDoc>('posts')

for (const loss of ['answer', 'command'] as Loss[]) {
  t.test(`a create whose ${loss} was lost: 503, then a same-key retry creates it exactly once`, async (t) => {
    const { proxy, app } = await appBehindProxy(t)
    const { user_id: uid } = await createUser(app, 'ambiguous')
    const body = { user_id: uid, title: 'maybe', content: 'landed or not' }
    const headers = { 'idempotency-key': `create-${loss}` }
    const lost = proxy.lose(loss, mongoCommandBytes('insert', 'posts'))
    const first = await post(app, '/posts', body, headers)
    await lost
    t.equal(first.statusCode, 503, 'the lost write is a 503')
    t.equal(first.headers['retry-after'], '1', 'with Retry-After')
    t.match(first.json<{ message: string }>().message, /may or may not have been applied; retry with the same Idempotency-Key/)
    t.equal(await postsOf(app).countDocuments(), loss === 'answer' ? 1 : 0, loss === 'answer' ? 'the insert landed' : 'the insert never reached the store')

    const retry = await post(app, '/posts', body, headers)
    t.equal(retry.statusCode, 201, 'the retry resolves it: created')
    t.equal(retry.headers[REPLAYED_HEADER], 'true', 'as the first request\'s result')
    const created = retry.json<{ post_id: number }>()
    t.equal(retry.headers.etag, `"p${created.post_id}-v1"`, 'at the version the create made')
    const docs = await postsOf(app).find().toArray()
    t.equal(docs.length, 1, 'one post, not two')
    t.equal(docs[0]!._id, created.post_id, 'the one answered')

    const again = await post(app, '/posts', body, headers)
    t.equal(again.statusCode, 201)
    t.same(again.json(), retry.json(), 'later retries replay the same answer')
    t.equal(await postsOf(app).countDocuments(), 1)
    // The create still reaches the outbox: its journal is released once its event is on Kafka.
    await app.publisher.cleared()
  })
}

t.test('a like whose answer was lost: 503, and a same-key retry is told so rather than counted again', async (t) => {
  const { proxy, app } = await appBehindProxy(t)
  const { user_id: uid } = await createUser(app, 'liker')
  const { post_id: pid } = await createPost(app, uid)
  const headers = { 'idempotency-key': 'like-once' }
  const lost = proxy.lose('answer', mongoCommandBytes('findAndModify', 'posts'))
  const first = await post(app, `/posts/${pid}/like`, undefined, headers)
  await lost
  t.equal(first.statusCode, 503, 'the lost like is a 503')
  t.equal((await postsOf(app).findOne({ _id: pid }))?.like_count, 1, 'it was counted')
  for (let i = 0; i < 2; i++) {
    const retry = await post(app, `/posts/${pid}/like`, undefined, headers)
    t.equal(retry.statusCode, 409, 'a retry is a 409, every time')
    t.match(retry.json<{ message: string }>().message, /may or may not have been applied; it is not run again/)
  }
  t.equal((await postsOf(app).findOne({ _id: pid }))?.like_count, 1, 'counted once, not once per retry')
  const other = await post(app, `/posts/${pid}/like`, undefined, { 'idempotency-key': 'like-twice' })
  t.equal(other.statusCode, 200, 'a new key is a new like')
  t.equal(other.json<{ like_count: number }>().like_count, 2)
})

t.test('MongoDB client options: retryable writes follow the URL, never forced off', async (t) => {
  const on = await build(t, { role: 'write' }, { MONGODB_URL: `mongodb://127.0.0.1:${MONGO_PORT}/?retryWrites=true` })
  t.equal(on.mongo.write?.client.options.retryWrites, true, 'the URL asks for them: on')
  const byDefault = await build(t, { role: 'write' })
  t.equal(byDefault.mongo.write?.client.options.retryWrites, true, 'the driver\'s default: on')
  const off = await build(t, { role: 'write' }, { MONGODB_URL: `mongodb://127.0.0.1:${MONGO_PORT}/?retryWrites=false` })
  t.equal(off.mongo.write?.client.options.retryWrites, false, 'the URL turns them off: off')
})
