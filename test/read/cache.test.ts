// The read-through cache for single entities: miss, fill and hit; TTLs with jitter; negative entries and a create
// winning over them; 400 for ids that are not positive integers; one MongoDB read for a burst of misses.
import t from 'tap'
import { build, dbOf, entryOf, eventOf, insertPosts, insertUsers, messageOf, metricValue, NO_IDENTITY, postDoc, publisher, userDoc, waitFor } from '../helper/index.js'
import { ABSENT_VERSION, casSet } from '../../src/cache/cas.js'
import { entityKey } from '../../src/cache/keys.js'
import { applyEvent } from '../../src/cache/apply.js'
import { posts, toPost, users } from '../../src/store/collections.js'

t.test('miss reads MongoDB and fills; the next read is a hit that never touches MongoDB', async (t) => {
  const app = await build(t, { role: 'read' }, { ...NO_IDENTITY, CACHE_TTL_SECONDS: '1000' })
  const db = dbOf(app)
  await insertUsers(db, [userDoc(7, 2, 'ada')])
  await insertPosts(db, [postDoc(9, 4, 7)])

  const misses = await metricValue(app.metrics.cacheLookups, { entity: 'user', result: 'miss' })
  const fills = await metricValue(app.metrics.cacheFills, { entity: 'user', result: 'stored' })
  const first = await app.inject('/get_server/users/7')
  t.equal(first.statusCode, 200)
  t.same(first.json(), { user_id: 7, username: 'ada', created_at: '2024-01-01T00:00:07.000Z' })
  t.equal(await metricValue(app.metrics.cacheLookups, { entity: 'user', result: 'miss' }), misses + 1, 'counted as a miss')
  t.equal(await metricValue(app.metrics.cacheFills, { entity: 'user', result: 'stored' }), fills + 1, 'filled')

  const entry = await entryOf(app.redis, 'user', 7)
  t.equal(entry?.v, 2, 'the entry carries the MongoDB version')
  t.same(JSON.parse(entry!.d), first.json(), 'and the full entity')
  const ttl = await app.redis.ttl(entityKey('user', 7))
  t.ok(ttl >= 900 && ttl <= 1000, `TTL ${ttl} is CACHE_TTL_SECONDS less up to 10% jitter`)

  // Change MongoDB behind the cache's back (no event): a hit must not notice, because it never reads MongoDB.
  await users(db).updateOne({ _id: 7 }, { $set: { username: 'changed' } })
  const hits = await metricValue(app.metrics.cacheLookups, { entity: 'user', result: 'hit' })
  const reads = await metricValue(app.metrics.mongoDuration, { op: 'find_user' })
  const second = await app.inject('/get_server/users/7')
  t.equal(second.statusCode, 200)
  t.equal(second.json().username, 'ada', 'served from the cache')
  t.equal(await metricValue(app.metrics.cacheLookups, { entity: 'user', result: 'hit' }), hits + 1, 'counted as a hit')
  t.equal(await metricValue(app.metrics.mongoDuration, { op: 'find_user' }), reads, 'no MongoDB read on a hit')

  const post = await app.inject('/get_server/posts/9')
  t.equal(post.statusCode, 200)
  t.same(post.json(), {
    post_id: 9, user_id: 7, title: 'title 9', content: 'content of post 9', like_count: 3, dislike_count: 0, created_at: '2024-01-01T00:00:09.000Z'
  })
  t.equal((await entryOf(app.redis, 'post', 9))?.v, 4)
})

t.test('absent ids: 404, cached briefly as absent, and a create wins over that entry at once', async (t) => {
  const app = await build(t, { role: 'read,consumer' }, { ...NO_IDENTITY, NEGATIVE_TTL_SECONDS: '300' })
  const kafka = await publisher(t, app.config)
  const db = dbOf(app)
  const miss = await app.inject('/get_server/posts/5')
  t.equal(miss.statusCode, 404)
  t.same(miss.json(), { statusCode: 404, error: 'Not Found', message: 'post 5 does not exist' })
  t.same(await entryOf(app.redis, 'post', 5), { v: 0, d: '' }, 'negative entry: version 0, no data')
  const ttl = await app.redis.ttl(entityKey('post', 5))
  t.ok(ttl > 0 && ttl <= 300, `negative TTL ${ttl} is NEGATIVE_TTL_SECONDS, not the entity TTL`)

  // The post now exists in MongoDB, but its event has not landed: the negative entry still answers (bounded staleness).
  const doc = postDoc(5, 1)
  await insertPosts(db, [doc])
  const negHits = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'negative_hit' })
  t.equal((await app.inject('/get_server/posts/5')).statusCode, 404)
  t.equal(await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'negative_hit' }), negHits + 1)

  // Its event lands through Kafka and the consumer: version 1 beats version 0 at once, 300 s before the entry expires.
  const published = Date.now()
  await kafka.send([messageOf(eventOf(doc))])
  await waitFor('the create to replace the negative entry', async () => (await entryOf(app.redis, 'post', 5))?.v === 1)
  t.ok(Date.now() - published < 30_000, 'as soon as the event is applied, not when the negative entry expires')
  const found = await app.inject('/get_server/posts/5')
  t.equal(found.statusCode, 200)
  t.equal(found.json().title, 'title 5')
  t.ok(await app.redis.ttl(entityKey('post', 5)) > 300, 'and it carries the entity TTL')

  // Write-through calls the same applyEvent: a user created over a negative entry shows at once too.
  const users404 = await app.inject('/get_server/users/4')
  t.equal(users404.statusCode, 404)
  t.same(users404.json(), { statusCode: 404, error: 'Not Found', message: 'user 4 does not exist' })
  await insertUsers(db, [userDoc(4)])
  t.equal(await applyEvent(app.redis, eventOf(userDoc(4)), 3600), true, 'write-through lands over the negative entry')
  t.equal((await app.inject('/get_server/users/4')).statusCode, 200)

  // A late negative fill (a read that looked in MongoDB before the insert and writes after the create) is refused.
  t.equal(await casSet(app.redis, entityKey('post', 5), ABSENT_VERSION, '', 300), false, 'a stale absence cannot return')
  t.equal((await app.inject('/get_server/posts/5')).statusCode, 200)
})

t.test('entries this code did not write are read past, not trusted: MongoDB answers and the read succeeds', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  await insertPosts(dbOf(app), [postDoc(1, 2), postDoc(2, 1)])
  await app.redis.hset(entityKey('post', 1), 'v', '2', 'd', '{not json')
  await app.redis.set(entityKey('post', 2), 'a plain string where a hash belongs')
  // Valid JSON, but another post's entity under this key: a hit is sent unparsed, so it must be for this very id.
  await insertPosts(dbOf(app), [postDoc(3, 1)])
  await app.redis.hset(entityKey('post', 3), 'v', '1', 'd', JSON.stringify(toPost(postDoc(4, 1))))
  // This post's own text, but a version no writer of ours stores: its ETag could not be trusted.
  await insertPosts(dbOf(app), [postDoc(5, 2)])
  await app.redis.hset(entityKey('post', 5), 'v', 'two', 'd', JSON.stringify(toPost(postDoc(5, 2))))
  const misses = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'miss' })
  const errors = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'error' })
  const corrupt = await app.inject('/get_server/posts/1')
  t.equal(corrupt.statusCode, 200)
  t.equal(corrupt.json().like_count, 1, 'a corrupt entry: answered from MongoDB')
  const wrongType = await app.inject('/get_server/posts/2')
  t.equal(wrongType.statusCode, 200, 'a key of the wrong type (Redis refuses HMGET and the fill): answered from MongoDB')
  t.equal(wrongType.json().post_id, 2)
  const otherId = await app.inject('/get_server/posts/3')
  t.equal(otherId.statusCode, 200)
  t.equal(otherId.json().post_id, 3, "an entry holding another id's entity: answered from MongoDB")
  const badVersion = await app.inject('/get_server/posts/5')
  t.equal(badVersion.headers.etag, '"p5-v2"', 'an entry whose version is not a number: answered from MongoDB, with its version')
  t.equal(await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'miss' }), misses + 3)
  t.equal(await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'error' }), errors + 1)
})

t.test('ids that are not positive integers: 400, before any lookup', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  const lookups = await metricValue(app.metrics.cacheLookups)
  for (const bad of ['abc', '0', '-1', '1.5', '9007199254740993', '1e400', '%20']) {
    for (const entity of ['posts', 'users']) {
      const res = await app.inject(`/get_server/${entity}/${bad}`)
      t.equal(res.statusCode, 400, `${entity}/${bad}`)
      t.equal(res.json().error, 'Bad Request')
    }
  }
  t.equal(await metricValue(app.metrics.cacheLookups), lookups, 'no cache lookup for a bad id')
})

t.test('single flight: a burst of concurrent misses for one key costs one MongoDB read', async (t) => {
  const app = await build(t, { role: 'read' }, NO_IDENTITY)
  const db = dbOf(app)
  await insertPosts(db, [postDoc(1, 1), postDoc(2, 1)])
  const BURST = 100
  const reads = await metricValue(app.metrics.mongoDuration, { op: 'find_post' })
  const joins = await metricValue(app.metrics.singleFlightJoins, { entity: 'post' })
  const hits = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'hit' })
  const responses = await Promise.all(Array.from({ length: BURST }, async () => await app.inject('/get_server/posts/1')))
  t.ok(responses.every((r) => r.statusCode === 200 && r.json().post_id === 1), 'every request answered')
  const joined = await metricValue(app.metrics.singleFlightJoins, { entity: 'post' }) - joins
  const hit = await metricValue(app.metrics.cacheLookups, { entity: 'post', result: 'hit' }) - hits
  t.equal(await metricValue(app.metrics.mongoDuration, { op: 'find_post' }) - reads, 1, `${BURST} concurrent misses, 1 MongoDB read`)
  t.equal(joined + hit, BURST - 1, `the rest joined the read in flight (${joined}) or hit the fresh fill (${hit})`)
  t.ok(joined > 0, 'joins happened')

  // Absent ids share their read too, and the answer (404) is shared.
  const absentReads = await metricValue(app.metrics.mongoDuration, { op: 'find_post' })
  const absent = await Promise.all(Array.from({ length: 20 }, async () => await app.inject('/get_server/posts/999')))
  t.ok(absent.every((r) => r.statusCode === 404))
  t.equal(await metricValue(app.metrics.mongoDuration, { op: 'find_post' }) - absentReads, 1)
  await posts(db).deleteMany({})
})
