// Every accepted write publishes one event (key "<type>:<id>", full entity and version), in version order per key;
// topics are created at start; write-through puts the new version into Redis, through the version CAS, before the
// response.
import t from 'tap'
import pino from 'pino'
import { build, createPost, createUser, dbOf, metricValue, post, readEvents, unpublished, versionsByKey, waitFor } from '../helper/index.js'
import { entityKey } from '../../src/cache/keys.js'
import { Relay } from '../../src/outbox/relay.js'
import type { RunWrite } from '../../src/store/connections.js'
import { countJournaled } from '../../src/store/journal.js'

t.test('each write publishes its event: key, full entity, version, occurred_at', async (t) => {
  const app = await build(t, { role: 'write' })
  const { eventsTopic, topicPartitions } = app.config
  const inlineBefore = await metricValue('pb_events_published_total', { path: 'inline' }, app)

  const user = (await post(app, '/users', { username: 'evented' })).json<{ user_id: number }>()
  const created = (await post(app, '/posts', { user_id: user.user_id, title: 'T', content: 'C' })).json<{ post_id: number }>()
  const liked = (await post(app, `/posts/${created.post_id}/like`)).json()
  const disliked = (await post(app, `/posts/${created.post_id}/dislike`)).json()

  const userKey = `user:${user.user_id}`
  const postKey = `post:${created.post_id}`
  // The two keys may sit on different partitions, whose relative order is not defined: wait for both, compare per key.
  const got = await readEvents(app.kafka, eventsTopic, (g) =>
    g.some((r) => r.key === userKey) && g.some((r) => r.key === postKey && r.event.version === 3))
  t.same([...versionsByKey(got)].sort(), [[postKey, [1, 2, 3]], [userKey, [1]]], 'one event per write, in order per key, nothing else')
  const userEvent = got.find((r) => r.key === userKey)
  const postEvents = got.filter((r) => r.key === postKey)
  t.same(userEvent?.event, { type: 'user', id: user.user_id, version: 1, data: user, occurred_at: userEvent?.event.occurred_at })
  t.same(postEvents.map((r) => r.event.data), [created, liked, disliked], 'each event carries the full post as answered')
  for (const r of got) {
    t.ok(Math.abs(Date.parse(r.event.occurred_at) - Date.now()) < 60_000, 'occurred_at is the time of the write')
  }
  t.equal(new Set(postEvents.map((r) => r.partition)).size, 1, "one entity's events share a partition")

  const admin = app.kafka.admin()
  await admin.connect()
  t.teardown(async () => { await admin.disconnect() })
  const meta = await admin.fetchTopicMetadata({ topics: [eventsTopic, app.config.dlqTopic] })
  t.same(meta.topics.map((m) => m.partitions.length), [topicPartitions, topicPartitions], 'both topics were created at start, with the configured partitions')

  t.ok(await metricValue('pb_events_published_total', { path: 'inline' }, app) >= inlineBefore + 4, 'counted as published inline')
  await waitFor('marks and journal entries to clear', async () => await unpublished(dbOf(app)) === 0, 10_000)
  t.pass('no mark or journal entry is left once the versions are published')
})

t.test('concurrent changes of one post are published in version order', async (t) => {
  const app = await build(t, { role: 'write' })
  const { user_id: uid } = await createUser(app, 'ordered')
  const { post_id: pid } = await createPost(app, uid)
  const answers = await Promise.all(Array.from({ length: 40 }, async (_, i) => await post(app, `/posts/${pid}/${i % 4 === 0 ? 'dislike' : 'like'}`)))
  const answered = answers.map((r) => r.json<{ like_count: number, dislike_count: number }>()).map((p) => p.like_count + p.dislike_count).sort((a, b) => a - b)
  t.same(answered, Array.from({ length: 40 }, (_, i) => i + 1), 'each change was answered with the post as it left it')
  const key = `post:${pid}`
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => g.some((r) => r.key === key && r.event.version === 41))
  const versions = versionsByKey(got).get(key) ?? []
  // Reactions that met in one batch go out as one event carrying all of them (reaction-batcher.ts), so versions may
  // be skipped, but never repeated or reordered, and the last carries every change.
  t.ok(versions.length >= 2 && versions.every((v, i) => i === 0 || v > versions[i - 1]!), `versions strictly increase (${versions.join(',')})`)
  t.same([versions[0], versions.at(-1)], [1, 41], 'from the create to the last change')
  const last = got.at(-1)?.event
  t.match(last?.data, { like_count: 30, dislike_count: 10 })
})

t.test('write-through: the new version is in Redis before the response, via the version CAS', async (t) => {
  const app = await build(t, { role: 'write', cacheUpdate: 'write-through' })
  const entry = async (type: 'user' | 'post', id: number): Promise<Record<string, string>> => await app.redis.hgetall(entityKey(type, id))

  const user = (await post(app, '/users', { username: 'cached' })).json<{ user_id: number }>()
  t.same(await entry('user', user.user_id), { v: '1', d: JSON.stringify(user) }, 'the user is cached at version 1 as the 201 arrives')
  const created = (await post(app, '/posts', { user_id: user.user_id, title: 'T', content: 'C' })).json<{ post_id: number }>()
  t.same(await entry('post', created.post_id), { v: '1', d: JSON.stringify(created) })
  const liked = (await post(app, `/posts/${created.post_id}/like`)).json()
  t.same(await entry('post', created.post_id), { v: '2', d: JSON.stringify(liked) }, 'the like is cached at version 2 as the 200 arrives')

  // A newer version already cached (say the consumer got there first) is never overwritten by an older one.
  await app.redis.hset(entityKey('post', created.post_id), 'v', '99')
  const rejectedBefore = await metricValue('pb_cache_cas_rejections_total', { source: 'write_through' }, app)
  const again = await post(app, `/posts/${created.post_id}/like`)
  t.equal(again.statusCode, 200, 'the write stands')
  t.equal(await app.redis.hget(entityKey('post', created.post_id), 'v'), '99', 'the CAS kept the newer cached version')
  t.equal(await metricValue('pb_cache_cas_rejections_total', { source: 'write_through' }, app), rejectedBefore + 1, 'and counted the refusal')

  const key = `post:${created.post_id}`
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => g.some((r) => r.key === key && r.event.version === 3))
  t.same(versionsByKey(got).get(key), [1, 2, 3], 'write-through still publishes every event')
})

t.test('events mode: the write role leaves Redis to the consumer', async (t) => {
  const app = await build(t, { role: 'write' })
  const user = await createUser(app, 'uncached')
  t.equal(await app.redis.exists(entityKey('user', user.user_id)), 0)
})

t.test('the relay never puts an older version on the topic after a newer one this replica published', async (t) => {
  const app = await build(t, { role: 'write' }, { RELAY_INTERVAL_MS: '600000' })
  const { user_id: uid } = await createUser(app, 'relayed')
  const { post_id: pid } = await createPost(app, uid)
  await app.publisher.cleared()
  // Left by an earlier release: version 1 marked pending (unpublished), overdue.
  await dbOf(app).collection<{ _id: number }>('posts').updateOne({ _id: pid }, { $set: { pending: true, pending_since: new Date(Date.now() - 60_000) } })
  // The relay scans the marks, then works on the journal before publishing them. Right then (its journal count, the
  // first store call after the scans), a like makes version 2 and publishes it inline.
  let liked = false
  const runWrite: RunWrite = async (fn) => {
    if (fn === countJournaled && !liked) {
      liked = true
      const like = await post(app, `/posts/${pid}/like`)
      t.equal(like.statusCode, 200)
    }
    return await app.runWrite(fn)
  }
  const relay = new Relay({ runWrite, metrics: app.metrics, publisher: app.publisher, log: pino({ level: 'silent' }), intervalMs: 100, graceMs: 0, onFatal: () => {} })
  await relay.pass()
  t.ok(liked, 'the like ran between the relay\'s scan and its publish')
  await app.publisher.cleared()
  const key = `post:${pid}`
  // Everything this app put on the topic, so an older version sent last is read too.
  const sent = await metricValue('pb_events_published_total', { path: 'inline' }, app) + await metricValue('pb_events_published_total', { path: 'relay' }, app)
  const got = await readEvents(app.kafka, app.config.eventsTopic, (g) => g.length >= sent)
  t.equal(got.length, sent, `read all ${sent} events`)
  const versions = versionsByKey(got).get(key) ?? []
  t.same(versions.filter((v, i) => i > 0 && v < versions[i - 1]!), [], `versions never go back on the topic (${versions.join(', ')})`)
  t.equal(versions.at(-1), 2, 'the newest is last')
  await waitFor('the mark to be cleared', async () => await unpublished(dbOf(app)) === 0, 10_000)
})
