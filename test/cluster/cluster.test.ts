// `npm run cluster`: the compose topology as local processes behind the real router (nginx, from compose's own
// routing file). Brought up once: two replicas of every role; the status lines; reactions exact across the two write
// replicas; a write replica SIGKILLed and started again while the router keeps taking writes; down.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import { ROOT, dropNamespace, isolatedEnv, testConfig, waitFor } from '../helper/index.js'

const exec = promisify(execFile)
/** Far from 8080, so a developer's own cluster or `npm run dev` can keep running. */
const PORT = 18080
const BASE = `http://127.0.0.1:${PORT}`

t.test('a cluster of two replicas per role behind the router', async (t) => {
  const env = isolatedEnv({ LOG_LEVEL: 'info' }) // the replicas' logs say when they are ready
  const config = testConfig({}, env)
  const cluster = async (...args: string[]): Promise<string> =>
    (await exec('npm', ['run', '--silent', 'cluster', '--', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 240_000 })).stdout
  t.teardown(async () => {
    await cluster('down').catch(() => '')
    await dropNamespace(config)
  })

  const upOut = await cluster('up', '--read', '2', '--write', '2', '--consumer', '2', '--port', String(PORT))
  t.match(upOut, /\[cluster\] write\.2 ready/, 'progress lines as each replica gets ready')
  t.match(upOut, new RegExp(`router on ${BASE}`))
  const lines = (await cluster('status')).trim().split('\n')
  t.same(lines.map((l) => l.split(' ')[0]), ['read.1', 'read.2', 'write.1', 'write.2', 'consumer.1', 'consumer.2', 'router'])
  for (const line of lines) t.match(line, /^[a-z]+(\.\d+)? \d+ http:\/\/127\.0\.0\.1:\d+ ready$/, `status: ${line}`)
  t.match(await cluster('up', '--read', '2', '--write', '2', '--consumer', '2', '--port', String(PORT)), /write\.2 ready/, 'up again is harmless')

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> => {
    const res = await fetch(BASE + path, { method, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) })
    return { status: res.status, json: await res.json() }
  }
  const user = await call('POST', '/post_server/users', { username: 'cluster' })
  t.equal(user.status, 201)
  const created = await call('POST', '/post_server/posts', { user_id: user.json.user_id, title: 'hot', content: 'liked through two write replicas' })
  t.equal(created.status, 201)
  const id: number = created.json.post_id

  // The router spreads these over both write replicas; on the local FerretDB their updates of one post take turns
  // through the document lease, so none is lost.
  const likes = await Promise.all(Array.from({ length: 200 }, async () => await call('POST', `/post_server/posts/${id}/like`)))
  t.same([...new Set(likes.map((r) => r.status))], [200], '200 likes accepted')
  const mongo = new MongoClient(config.mongoUrl)
  t.teardown(async () => { await mongo.close() })
  t.match(await mongo.db(config.mongoDatabase).collection<{ _id: number }>('posts').findOne({ _id: id }), { like_count: 200, version: 201 }, 'and all 200 stored')
  await waitFor('the read replicas to see every like', async () => (await call('GET', `/get_server/posts/${id}`)).json.like_count === 200, 30_000)
  t.pass('reads through the router converge on 200')
  const redis = new Redis(config.redisUrl)
  t.teardown(() => { redis.disconnect() })
  t.same(await redis.keys(`${config.redisKeyPrefix}lease:*`), [], 'no document lease left behind')

  await cluster('kill', 'write.2')
  t.match(await cluster('status'), /^write\.2 - http:\/\/127\.0\.0\.1:\d+ down$/m, 'SIGKILLed')
  const during = await Promise.all(Array.from({ length: 20 }, async () => await call('POST', `/post_server/posts/${id}/like`)))
  t.same([...new Set(during.map((r) => r.status))], [200], 'the router takes writes on the replica that is left')
  await cluster('start', 'write.2')
  await waitFor('write.2 ready again', async () => /^write\.2 \d+ \S+ ready$/m.test(await cluster('status')), 60_000)
  t.pass('started again on its port')
  t.match(await cluster('logs', 'write.2'), /postboard ready/, 'its log')

  await cluster('down')
  for (const line of (await cluster('status')).trim().split('\n')) t.match(line, / down$/, `after down: ${line}`)
})
