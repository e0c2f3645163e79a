// Every malformed write is a 4xx naming what is wrong (400 with the field, 413 too large, 415 not JSON); never a 5xx.
import t, { type Test } from 'tap'
import { build, createPost, createUser, dbOf, post } from '../helper/index.js'

interface Case { name: string, url: string, payload?: string, type?: string | null, headers?: Record<string, string>, status: number, message: RegExp }

const JSON_TYPE = 'application/json'

async function check (t: Test, app: Awaited<ReturnType<typeof build>>, c: Case): Promise<void> {
  const headers: Record<string, string> = { ...c.headers }
  if (c.type !== null) headers['content-type'] = c.type ?? JSON_TYPE
  const res = await app.inject({ method: 'POST', url: `/post_server${c.url}`, headers, ...(c.payload !== undefined && { payload: c.payload }) })
  t.equal(res.statusCode, c.status, `${c.name}: status`)
  const body = res.json<{ statusCode: number, error: string, message: string }>()
  t.equal(body.statusCode, c.status, `${c.name}: body statusCode`)
  t.match(body.message, c.message, `${c.name}: message names the problem (${body.message})`)
}

t.test('POST /users rejects every malformed body by naming the field', async (t) => {
  const app = await build(t, { role: 'write' })
  const cases: Case[] = [
    { name: 'missing username', url: '/users', payload: '{}', status: 400, message: /^body\/username: expected required property/ },
    { name: 'number', url: '/users', payload: '{"username":123}', status: 400, message: /^body\/username: expected string/ },
    { name: 'boolean', url: '/users', payload: '{"username":true}', status: 400, message: /^body\/username: expected string/ },
    { name: 'operator injection', url: '/users', payload: '{"username":{"$ne":null}}', status: 400, message: /^body\/username: expected string/ },
    { name: 'array', url: '/users', payload: '{"username":["a"]}', status: 400, message: /^body\/username: expected string/ },
    { name: 'null', url: '/users', payload: '{"username":null}', status: 400, message: /^body\/username: expected string/ },
    { name: 'empty', url: '/users', payload: '{"username":""}', status: 400, message: /^body\/username: /i },
    { name: 'only spaces', url: '/users', payload: '{"username":"   "}', status: 400, message: /^body\/username: / },
    { name: '51 characters', url: '/users', payload: JSON.stringify({ username: 'u'.repeat(51) }), status: 400, message: /^body\/username: .*50/ },
    // Characters are code points, as in the seed's VARCHAR(50): 51 emoji are 102 UTF-16 units but 51 characters.
    { name: '51 emoji', url: '/users', payload: JSON.stringify({ username: '\u{1F600}'.repeat(51) }), status: 400, message: /^body\/username: must be at most 50 characters \(Unicode code points\), got 51$/ },
    { name: 'extra field', url: '/users', payload: '{"username":"a","admin":true}', status: 400, message: /^body\/admin: unexpected property/ },
    { name: 'body is an array', url: '/users', payload: '[{"username":"a"}]', status: 400, message: /^body: expected object/ },
    { name: 'body is null', url: '/users', payload: 'null', status: 400, message: /^body: expected object/ },
    { name: 'body is a string', url: '/users', payload: '"alice"', status: 400, message: /^body: expected object/ },
    { name: 'invalid JSON', url: '/users', payload: '{"username":', status: 400, message: /not valid JSON/ },
    { name: 'empty JSON body', url: '/users', payload: '', status: 400, message: /cannot be empty/ },
    { name: 'no body, no type', url: '/users', type: null, status: 400, message: /^body: expected object/ },
    { name: 'a body without a type', url: '/users', payload: '{"username":"a"}', type: null, status: 415, message: /application\/json, got 'none'/ },
    // Fastify's parser (secure-json-parse) refuses a __proto__ key outright, as invalid JSON.
    { name: 'prototype poisoning', url: '/users', payload: '{"username":"a","__proto__":{"x":1}}', status: 400, message: /not valid JSON/ },
    { name: 'text/plain', url: '/users', payload: '{"username":"a"}', type: 'text/plain', status: 415, message: /application\/json, got 'text\/plain'/ },
    { name: 'form', url: '/users', payload: 'username=a', type: 'application/x-www-form-urlencoded', status: 415, message: /application\/json, got 'application\/x-www-form-urlencoded'/ },
    { name: 'over the body limit', url: '/users', payload: JSON.stringify({ username: 'a', pad: 'x'.repeat(200 * 1024) }), status: 413, message: /too large/ },
    { name: 'bad idempotency key', url: '/users', payload: '{"username":"a"}', headers: { 'idempotency-key': 'has space' }, status: 400, message: /^headers\/idempotency-key: / },
    { name: 'idempotency key too long', url: '/users', payload: '{"username":"a"}', headers: { 'idempotency-key': 'k'.repeat(201) }, status: 400, message: /^headers\/idempotency-key: / }
  ]
  for (const c of cases) await check(t, app, c)
  t.equal(await dbOf(app).collection('users').countDocuments(), 0, 'nothing malformed was stored')
  const fifty = await post(app, '/users', { username: '\u{1F600}'.repeat(50) })
  t.equal(fifty.statusCode, 201, 'a username of 50 emoji (100 UTF-16 units) is accepted')
})

t.test('POST /posts rejects every malformed body by naming the field', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'author')
  const ok = { user_id: uid, title: 'a title', content: 'some content' }
  const body = (patch: Record<string, unknown>): string => JSON.stringify({ ...ok, ...patch })
  const cases: Case[] = [
    { name: 'user_id as a string', url: '/posts', payload: body({ user_id: String(uid) }), status: 400, message: /^body\/user_id: expected integer/ },
    { name: 'user_id zero', url: '/posts', payload: body({ user_id: 0 }), status: 400, message: /^body\/user_id: / },
    { name: 'user_id negative', url: '/posts', payload: body({ user_id: -1 }), status: 400, message: /^body\/user_id: / },
    { name: 'user_id fractional', url: '/posts', payload: body({ user_id: 1.5 }), status: 400, message: /^body\/user_id: expected integer/ },
    { name: 'user_id beyond 2^53', url: '/posts', payload: '{"user_id":123456789012345678901,"title":"t","content":"c"}', status: 400, message: /^body\/user_id: / },
    { name: 'user_id injection', url: '/posts', payload: body({ user_id: { $gt: 0 } }), status: 400, message: /^body\/user_id: expected integer/ },
    { name: 'missing title', url: '/posts', payload: JSON.stringify({ user_id: uid, content: 'c' }), status: 400, message: /^body\/title: expected required property/ },
    { name: 'empty title', url: '/posts', payload: body({ title: '' }), status: 400, message: /^body\/title: / },
    { name: 'title 256 characters', url: '/posts', payload: body({ title: 't'.repeat(256) }), status: 400, message: /^body\/title: .*255/ },
    { name: 'title 256 emoji', url: '/posts', payload: body({ title: '\u{1F600}'.repeat(256) }), status: 400, message: /^body\/title: must be at most 255 characters \(Unicode code points\), got 256$/ },
    { name: 'missing content', url: '/posts', payload: JSON.stringify({ user_id: uid, title: 't' }), status: 400, message: /^body\/content: expected required property/ },
    { name: 'empty content', url: '/posts', payload: body({ content: '' }), status: 400, message: /^body\/content: / },
    { name: 'content injection', url: '/posts', payload: body({ content: { $gt: '' } }), status: 400, message: /^body\/content: expected string/ },
    { name: 'content over 65536 characters', url: '/posts', payload: body({ content: 'c'.repeat(65537) }), status: 400, message: /^body\/content: .*65536/ },
    // 20,000 four-byte characters: within the character limit, over the byte limit, under the body limit.
    { name: 'content over 64 KiB of UTF-8', url: '/posts', payload: body({ content: '\u{1F600}'.repeat(20000) }), status: 400, message: /^body\/content: 80000 bytes of UTF-8, at most 65536/ },
    { name: 'extra field', url: '/posts', payload: body({ like_count: 1000 }), status: 400, message: /^body\/like_count: unexpected property/ },
    { name: 'several problems', url: '/posts', payload: '{"user_id":"x","title":5}', status: 400, message: /body\/user_id: .*; body\/title: / },
    { name: 'text/plain', url: '/posts', payload: body({}), type: 'text/plain', status: 415, message: /application\/json/ },
    { name: 'unknown author', url: '/posts', payload: body({ user_id: uid + 1000 }), status: 422, message: new RegExp(`user_id ${uid + 1000} does not name an existing user`) }
  ]
  for (const c of cases) await check(t, app, c)
  t.equal(await dbOf(app).collection('posts').countDocuments(), 0, 'nothing malformed was stored')

  const good = await post(app, '/posts', { user_id: uid, title: 't', content: '\u{1F600}'.repeat(16384) })
  t.equal(good.statusCode, 201, 'exactly 64 KiB of UTF-8 is accepted')
  // 255 emoji are 510 UTF-16 units: within the limit, which counts characters; stored and answered whole.
  const title = '\u{1F600}'.repeat(255)
  const emoji = await post(app, '/posts', { user_id: uid, title, content: 'c' })
  t.equal(emoji.statusCode, 201, 'a title of 255 emoji is accepted')
  t.equal(emoji.json<{ title: string }>().title, title, 'and kept whole')
})

t.test('reactions: bad ids are 400, absent posts 404, bodies refused', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'reactor')
  const { post_id: pid } = await createPost(app, uid)
  for (const kind of ['like', 'dislike']) {
    const cases: Case[] = [
      { name: `${kind} non-numeric id`, url: `/posts/abc/${kind}`, type: null, status: 400, message: /^params\/id: expected integer/ },
      { name: `${kind} id zero`, url: `/posts/0/${kind}`, type: null, status: 400, message: /^params\/id: / },
      { name: `${kind} fractional id`, url: `/posts/1.5/${kind}`, type: null, status: 400, message: /^params\/id: expected integer/ },
      { name: `${kind} exponent id`, url: `/posts/1e0/${kind}`, type: null, status: 400, message: /^params\/id: expected integer/ },
      { name: `${kind} id beyond 2^53`, url: `/posts/123456789012345678901/${kind}`, type: null, status: 400, message: /^params\/id: / },
      { name: `${kind} absent post`, url: `/posts/${pid + 100}/${kind}`, type: null, status: 404, message: new RegExp(`post ${pid + 100} does not exist`) },
      { name: `${kind} with a field`, url: `/posts/${pid}/${kind}`, payload: '{"count":100}', status: 400, message: /^body\/count: unexpected property/ },
      { name: `${kind} with an array`, url: `/posts/${pid}/${kind}`, payload: '[1]', status: 400, message: new RegExp(`^body: a ${kind} takes no body`) },
      { name: `${kind} with invalid JSON`, url: `/posts/${pid}/${kind}`, payload: '{', status: 400, message: /not valid JSON/ },
      { name: `${kind} with text`, url: `/posts/${pid}/${kind}`, payload: 'x', type: 'text/plain', status: 415, message: /application\/json/ }
    ]
    for (const c of cases) await check(t, app, c)
  }
  const doc = await dbOf(app).collection<{ _id: number }>('posts').findOne({ _id: pid })
  t.match(doc, { like_count: 0, dislike_count: 0, version: 1 }, 'no refused reaction changed the post')

  const empty = await post(app, `/posts/${pid}/like`, {})
  t.equal(empty.statusCode, 200, 'an empty JSON object is accepted')
  const none = await post(app, `/posts/${pid}/dislike`)
  t.equal(none.statusCode, 200, 'no body at all is accepted')
  t.match(none.json(), { post_id: pid, like_count: 1, dislike_count: 1 })
})
