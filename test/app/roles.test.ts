// Each role serves only its own routes; every role serves health.
import t from 'tap'
import { build } from '../helper/index.js'

t.test('read role: /get_server routes only', async (t) => {
  const app = await build(t, { role: 'read' })
  const read = await app.inject({ method: 'GET', url: '/get_server/users/1' })
  t.equal(read.statusCode, 404)
  t.match(read.json(), { statusCode: 404, error: 'Not Found', message: 'user 1 does not exist' })
  const write = await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'x' } })
  t.equal(write.statusCode, 404)
  t.match(write.json(), { message: 'no route for POST /post_server/users' })
  t.equal((await app.inject('/health/live')).statusCode, 200)
  t.equal(app.hasDecorator('kafka'), false, 'the read role needs no Kafka client')
})

t.test('write role: /post_server routes only', async (t) => {
  const app = await build(t, { role: 'write' })
  const write = await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'writer' } })
  t.equal(write.statusCode, 201)
  const read = await app.inject({ method: 'GET', url: '/get_server/users/1' })
  t.equal(read.statusCode, 404)
  t.match(read.json(), { message: 'no route for GET /get_server/users/1' })
})

t.test('consumer role: no data routes, still healthy', async (t) => {
  const app = await build(t, { role: 'consumer' })
  t.equal((await app.inject('/get_server/posts')).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'c' } })).statusCode, 404)
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.match(ready.json(), { status: 'ok', roles: ['consumer'], checks: { kafka: 'ok', redis: 'ok' } })
})

t.test('all roles in one process: both prefixes on one port', async (t) => {
  const app = await build(t, { role: 'all' })
  const created = await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'both' } })
  t.equal(created.statusCode, 201)
  const { user_id: id } = created.json<{ user_id: number }>()
  const got = await app.inject(`/get_server/users/${id}`)
  t.equal(got.statusCode, 200)
  t.match(got.json(), { user_id: id, username: 'both' })
  const ready = await app.inject('/health/ready')
  t.match(ready.json(), { status: 'ok', checks: { redis: 'ok', mongo: 'ok', kafka: 'ok' } })
})
