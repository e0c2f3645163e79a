// --auth-writes: every write needs a valid token (through the stack's Lambda emulator), and POST /posts refuses a
// user_id other than the token's subject. Without the flag, writes stay open while reads stay gated.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, dbOf } from '../helper/index.js'
import { mintToken } from '../../src/identity/token.js'
import { createUser } from '../../src/store/users.js'

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
const post = (userId: number): Record<string, unknown> => ({ user_id: userId, title: 'hello', content: 'first post' })

async function user (app: FastifyInstance, name: string): Promise<{ id: number, token: string }> {
  const id = (await createUser(app.store, dbOf(app), name)).doc._id
  return { id, token: await mintToken(app.config.token, String(id), 600) }
}

t.test('--auth-writes: a token on every write, and a post only as its own author', async (t) => {
  const app = await build(t, { role: 'all', authWrites: true }, { IDENTITY_MODE: 'lambda' })
  const alice = await user(app, 'alice')
  const bob = await user(app, 'bob')

  const anonymous = await app.inject({ method: 'POST', url: '/post_server/posts', payload: post(alice.id) })
  t.equal(anonymous.statusCode, 401, 'no token: 401')
  t.equal(anonymous.headers['www-authenticate'], 'Bearer realm="postboard"')

  const impostor = await app.inject({ method: 'POST', url: '/post_server/posts', headers: bearer(alice.token), payload: post(bob.id) })
  t.equal(impostor.statusCode, 403, 'posting as someone else: 403')
  t.match(impostor.json(), { statusCode: 403, error: 'Forbidden', message: `user_id ${bob.id} is not the token's subject: a post can only be made as yourself` })

  const own = await app.inject({ method: 'POST', url: '/post_server/posts', headers: bearer(alice.token), payload: post(alice.id) })
  t.equal(own.statusCode, 201, 'posting as yourself: 201')
  const { post_id: postId } = own.json<{ post_id: number }>()
  t.equal(own.json<{ user_id: number }>().user_id, alice.id)

  const authors = await dbOf(app).collection('posts').distinct('user_id')
  t.same(authors, [alice.id], 'the refused post never reached the store')

  const invalid = await app.inject({ method: 'POST', url: '/post_server/posts', headers: bearer('not.a.token'), payload: post(alice.id) })
  t.equal(invalid.statusCode, 401, 'an invalid token is 401 before the body is looked at')

  t.equal((await app.inject({ method: 'POST', url: `/post_server/posts/${postId}/like` })).statusCode, 401, 'reactions need a token')
  t.equal((await app.inject({ method: 'POST', url: `/post_server/posts/${postId}/like`, headers: bearer(bob.token) })).statusCode, 200,
    'anyone with a valid token may react to any post')
  t.equal((await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'carol' } })).statusCode, 401, 'creating users needs a token')
  t.equal((await app.inject({ url: `/get_server/posts/${postId}` })).statusCode, 401, 'reads stay gated')
})

t.test('without --auth-writes: writes need no token, reads still do', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'lambda' })
  const alice = await user(app, 'alice')
  const created = await app.inject({ method: 'POST', url: '/post_server/posts', payload: post(alice.id) })
  t.equal(created.statusCode, 201)
  const postId = created.json<{ post_id: number }>().post_id
  t.equal((await app.inject({ url: `/get_server/posts/${postId}` })).statusCode, 401)
  t.equal((await app.inject({ url: `/get_server/posts/${postId}`, headers: bearer(alice.token) })).statusCode, 200)
})

t.test('--auth-writes with IDENTITY_MODE=off: nothing is checked (development only)', async (t) => {
  const app = await build(t, { role: 'write', authWrites: true }, { IDENTITY_MODE: 'off' })
  const alice = await user(app, 'alice')
  const bob = await user(app, 'bob')
  const res = await app.inject({ method: 'POST', url: '/post_server/posts', payload: post(bob.id), headers: bearer(alice.token) })
  t.equal(res.statusCode, 201, 'identity off: no token check and no author check')
})
