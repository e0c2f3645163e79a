// What a client can see of versions and ask for on GET by id: the ETag of the version answered, a 304 for a matching
// If-None-Match (never before the identity check), and Min-Version: never an older version, read from MongoDB when
// the cache trails (here: no consumer, so Redis stays at the version before a write), 412 past the stored version,
// 400 when it is not a positive integer. Across two read replicas with near caches, Min-Version reads a write back on
// the replica that has not seen it.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, createPost, createUser, dbOf, dropNamespace, entryOf, eventOf, insertPosts, insertUsers, metricValue, NO_IDENTITY, post, postDoc, testConfig, userDoc, waitFor } from '../helper/index.js'
import { applyEvent } from '../../src/cache/apply.js'
import { entityKey } from '../../src/cache/keys.js'
import { mintToken } from '../../src/identity/token.js'

async function get (app: FastifyInstance, url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ url: `/get_server${url}`, headers })
}

const postReads = async (app: FastifyInstance): Promise<number> => await metricValue(app.metrics.mongoDuration, { op: 'find_post' })
const lookups = async (app: FastifyInstance, result: string): Promise<number> =>
  await metricValue(app.metrics.cacheLookups, { entity: 'post', result })

t.test('GET by id answers the ETag of its version; If-None-Match naming it is a 304 with no body', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  await insertPosts(dbOf(app), [postDoc(1, 3)])
  await insertUsers(dbOf(app), [userDoc(7)])

  const miss = await get(app, '/posts/1')
  t.equal(miss.statusCode, 200)
  t.equal(miss.headers.etag, '"p1-v3"', 'from MongoDB: the stored version')
  const hit = await get(app, '/posts/1')
  t.equal(hit.headers.etag, '"p1-v3"', 'from Redis: the same tag')
  t.equal(hit.body, miss.body, 'for the same text')
  t.equal((await get(app, '/users/7')).headers.etag, '"u7-v1"', 'users are tagged too')

  for (const [name, header] of [['the tag', '"p1-v3"'], ['a list holding it', '"p1-v2", "p1-v3"'], ['its weak form', 'W/"p1-v3"'], ['*', '*']] as const) {
    const res = await get(app, '/posts/1', { 'if-none-match': header })
    t.equal(res.statusCode, 304, `${name}: 304`)
    t.equal(res.body, '', `${name}: no body`)
    t.equal(res.headers.etag, '"p1-v3"', `${name}: the ETag still sent`)
    t.equal(res.headers['content-type'], undefined, `${name}: no content type`)
  }
  const stale = await get(app, '/posts/1', { 'if-none-match': '"p1-v2"' })
  t.equal(stale.statusCode, 200, 'an older tag: the whole entity')
  t.equal(stale.json().like_count, 2)
  t.equal(stale.headers.etag, '"p1-v3"')
  t.equal((await get(app, '/posts/1', { 'if-none-match': '"u1-v3"' })).statusCode, 200, "another entity type's tag does not match")

  // A new version in the cache: the tag the client holds no longer matches.
  t.equal(await applyEvent(app.redis, eventOf(postDoc(1, 4)), 3600), true)
  const changed = await get(app, '/posts/1', { 'if-none-match': '"p1-v3"' })
  t.equal(changed.statusCode, 200)
  t.equal(changed.headers.etag, '"p1-v4"')
  t.equal((await get(app, '/posts/1', { 'if-none-match': '"p1-v4"' })).statusCode, 304)

  t.equal((await get(app, '/posts/404', { 'if-none-match': '*' })).statusCode, 404, '* matches only an entity that exists')
  t.equal((await get(app, '/posts', { 'if-none-match': '*' })).headers.etag, undefined, 'a list page carries no ETag')
})

t.test('a matching If-None-Match without a valid token is still a 401, never a 304', async (t) => {
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'lambda' })
  await insertPosts(dbOf(app), [postDoc(1, 2)])
  const token = await mintToken(app.config.token, '1', 600)
  const authorized = await get(app, '/posts/1', { authorization: `Bearer ${token}`, 'if-none-match': '"p1-v2"' })
  t.equal(authorized.statusCode, 304, 'with the token: 304')

  const reads = await lookups(app, 'hit')
  for (const [name, headers] of [
    ['no token', { 'if-none-match': '"p1-v2"' }],
    ['a bad token', { authorization: 'Bearer garbage', 'if-none-match': '"p1-v2"' }],
    ['no token, *', { 'if-none-match': '*' }],
    ['no token, Min-Version', { 'min-version': '99' }],
    ['no token, a bad Min-Version', { 'min-version': 'abc' }]
  ] as const) {
    const res = await get(app, '/posts/1', headers)
    t.equal(res.statusCode, 401, `${name}: 401`)
    t.match(res.headers['www-authenticate'], /^Bearer realm="postboard"/, `${name}: with the challenge`)
    t.equal(res.headers.etag, undefined, `${name}: no ETag, nothing about the entity`)
  }
  t.equal(await lookups(app, 'hit'), reads, 'none of them reached the cache')
})

t.test('Min-Version: an older cached version is read past to MongoDB; past the stored version, 412', async (t) => {
  // Read and write roles, no consumer: a write reaches MongoDB and Kafka, never Redis, so the cache stays behind.
  const app = await build(t, { role: 'read,write' }, { ...NO_IDENTITY, NEGATIVE_TTL_SECONDS: '300' })
  const { user_id: uid } = await createUser(app, 'writer')
  const created = await post(app, '/posts', { user_id: uid, title: 'T', content: 'C' })
  t.equal(created.headers.etag, '"p1-v1"')
  t.equal((await get(app, '/posts/1')).headers.etag, '"p1-v1"', 'read through into the cache at version 1')

  const liked = await post(app, '/posts/1/like')
  t.equal(liked.headers.etag, '"p1-v2"', 'the like answers version 2')
  const plain = await get(app, '/posts/1')
  t.equal(plain.headers.etag, '"p1-v1"', 'without Min-Version: the cache, still at version 1 (no consumer)')
  t.equal(plain.json().like_count, 0)

  const reads = await postReads(app)
  const stale = await lookups(app, 'stale')
  const mine = await get(app, '/posts/1', { 'min-version': '2' })
  t.equal(mine.statusCode, 200)
  t.equal(mine.headers.etag, '"p1-v2"', 'with Min-Version 2: version 2')
  t.equal(mine.json().like_count, 1, 'the writer reads its own like')
  t.equal(await postReads(app), reads + 1, 'from MongoDB')
  t.equal(await lookups(app, 'stale'), stale + 1, 'the cached entry counted as stale')
  t.equal((await entryOf(app.redis, 'post', 1))?.v, 2, 'and the read filled the cache (version CAS)')
  t.equal((await get(app, '/posts/1')).headers.etag, '"p1-v2"', 'so plain reads see version 2 now too')

  const satisfied = await postReads(app)
  t.equal((await get(app, '/posts/1', { 'min-version': '1' })).headers.etag, '"p1-v2"', 'an older Min-Version: the newer cached version')
  t.equal((await get(app, '/posts/1', { 'min-version': '2' })).statusCode, 200)
  t.equal(await postReads(app), satisfied, 'a cached version new enough never reads MongoDB')
  t.equal((await get(app, '/posts/1', { 'min-version': '2', 'if-none-match': '"p1-v2"' })).statusCode, 304, 'and can be a 304')

  const tooNew = await get(app, '/posts/1', { 'min-version': '3' })
  t.equal(tooNew.statusCode, 412, 'past the stored version: 412')
  t.same(tooNew.json(), { statusCode: 412, error: 'Precondition Failed', message: 'post 1 is at version 2; no stored version satisfies Min-Version 3' })
  t.equal(tooNew.headers.etag, undefined)
  t.equal((await get(app, `/users/${uid}`, { 'min-version': '2' })).statusCode, 412, 'users too (they stay at version 1)')
  t.equal((await get(app, '/posts/1', { 'min-version': String(Number.MAX_SAFE_INTEGER) })).statusCode, 412, 'the largest Min-Version is valid, and a 412')

  // A post looked up before it existed is cached as absent; Min-Version reads past that entry, plain reads do not.
  t.equal((await get(app, '/posts/2')).statusCode, 404)
  const second = await createPost(app, uid, 'second')
  t.equal(second.post_id, 2)
  t.equal((await get(app, '/posts/2')).statusCode, 404, 'without Min-Version: the cached absence (NEGATIVE_TTL_SECONDS)')
  const found = await get(app, '/posts/2', { 'min-version': '1' })
  t.equal(found.statusCode, 200, 'with Min-Version 1: the create, from MongoDB')
  t.equal(found.headers.etag, '"p2-v1"')
  t.equal((await get(app, '/posts/3', { 'min-version': '1' })).statusCode, 404, 'an id MongoDB does not have either stays a 404')
})

t.test('Min-Version that is not a positive safe integer in decimal digits is a 400 naming the header', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  await insertPosts(dbOf(app), [postDoc(1, 1)])
  const before = await metricValue(app.metrics.cacheLookups)
  for (const bad of ['abc', '0', '-1', '1.5', '1e3', '0x10', ' 5', '007', '', '2, 3', '9007199254740992', '99999999999999999999']) {
    for (const entity of ['posts', 'users']) {
      const res = await get(app, `/${entity}/1`, { 'min-version': bad })
      t.equal(res.statusCode, 400, `${entity} '${bad}': 400`)
      t.match(res.json(), { statusCode: 400, error: 'Bad Request', message: /^headers\/min-version must / }, `${entity} '${bad}': names the header`)
    }
  }
  t.equal(await metricValue(app.metrics.cacheLookups), before, 'none reached the cache')
})

t.test('a burst of Min-Version reads of a trailing entry costs at most two MongoDB reads', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  await insertPosts(dbOf(app), [postDoc(1, 2)])
  t.equal(await applyEvent(app.redis, eventOf(postDoc(1, 1)), 3600), true, 'the cache holds version 1, MongoDB version 2')

  const reads = await postReads(app)
  const answers = await Promise.all(Array.from({ length: 50 }, async () => await get(app, '/posts/1', { 'min-version': '2' })))
  t.ok(answers.every((r) => r.statusCode === 200 && r.headers.etag === '"p1-v2"'), 'every one answered version 2')
  const made = await postReads(app) - reads
  t.ok(made >= 1 && made <= 2, `${made} MongoDB read(s) for 50 concurrent requests: one running and one queued at most`)
})

t.test('two read replicas with near caches: Min-Version reads a write back on the replica that has not seen it', async (t) => {
  const config = testConfig({ role: 'read' }, { ...NO_IDENTITY, NEAR_CACHE_ENTRIES: '100', NEAR_CACHE_MAX_AGE_MS: '600000' })
  t.teardown(async () => { await dropNamespace(config) })
  const writer = await build(t, { ...config, roles: new Set(['write'] as const) })
  const a = await build(t, config)
  const b = await build(t, config)
  for (const app of [a, b]) await waitFor('near cache tracking', async () => app.nearCache?.active)

  const { user_id: uid } = await createUser(writer, 'replicated')
  const { post_id: pid } = await createPost(writer, uid)
  const key = config.redisKeyPrefix + entityKey('post', pid)
  for (const app of [a, b, a, b]) t.equal((await get(app, `/posts/${pid}`)).headers.etag, `"p${pid}-v1"`)
  t.equal(a.nearCache?.get(key)?.version, 1, 'replica a holds version 1 near')
  t.equal(b.nearCache?.get(key)?.version, 1, 'replica b holds version 1 near')

  const liked = await post(writer, `/posts/${pid}/like`)
  const version = Number(/-v(\d+)"$/.exec(liked.headers.etag as string)?.[1])
  t.equal(version, 2, 'the like answers version 2')
  t.equal((await get(b, `/posts/${pid}`)).headers.etag, `"p${pid}-v1"`, 'replica b, asked plainly: still version 1 (no consumer)')

  const nearHits = await metricValue(b.metrics.cacheLookups, { entity: 'post', result: 'near_hit' })
  const reads = await postReads(b)
  const mine = await get(b, `/posts/${pid}`, { 'min-version': String(version) })
  t.equal(mine.statusCode, 200)
  t.equal(mine.headers.etag, `"p${pid}-v2"`, 'replica b with Min-Version: version 2')
  t.equal(mine.json().like_count, 1)
  t.equal(await metricValue(b.metrics.cacheLookups, { entity: 'post', result: 'near_hit' }), nearHits, 'not from its near cache')
  t.equal(await postReads(b), reads + 1, 'nor from Redis (still version 1): from MongoDB')

  const onA = await get(a, `/posts/${pid}`, { 'min-version': String(version) })
  t.equal(onA.headers.etag, `"p${pid}-v2"`, 'replica a with Min-Version: version 2 as well')
  t.equal((await get(a, `/posts/${pid}`, { 'if-none-match': onA.headers.etag as string })).statusCode, 304, "b's tag is a's tag")
  // b's fill put version 2 into Redis, whose invalidation empties both near caches: plain reads converge.
  for (const app of [a, b]) {
    await waitFor('plain reads to see version 2', async () => (await get(app, `/posts/${pid}`)).headers.etag === `"p${pid}-v2"`)
  }
  t.pass('both replicas answer version 2 to plain reads')
})
