// The race both seed documents name, forced deterministically: a read-through fill reads version 3 from MongoDB, the
// consumer then applies version 4 from Kafka, and only then does the fill write. With the version CAS the cache keeps
// version 4; with a plain write it would hold version 3 until the TTL ran out, which this test also shows.
import t from 'tap'
import type { Redis } from 'ioredis'
import { build, dbOf, entryOf, eventOf, insertPosts, messageOf, metricValue, NO_IDENTITY, postDoc, publisher, waitFor } from '../helper/index.js'
import { casSet } from '../../src/cache/cas.js'
import { ReadThrough, type CacheWrite } from '../../src/read/read-through.js'
import type { Post } from '../../src/shared/schemas.js'
import { posts } from '../../src/store/collections.js'
import { findPostVersioned } from '../../src/store/read.js'

/** What the cache would be without the CAS: store whatever the writer read. */
const plainWrite: CacheWrite = async (redis: Redis, key, version, data, ttl) => {
  await redis.multi().hset(key, 'v', version, 'd', data).expire(key, ttl).exec()
  return true
}

/** Wraps a writer so the test decides when the fill's write happens: after its MongoDB read, before its write. */
function gated (write: CacheWrite): { write: CacheWrite, reached: Promise<number>, release: () => void } {
  let reached!: (version: number) => void
  let release!: () => void
  const atWrite = new Promise<number>((resolve) => { reached = resolve })
  const released = new Promise<void>((resolve) => { release = resolve })
  return {
    reached: atWrite,
    release,
    write: async (redis, key, version, data, ttl) => {
      reached(version)
      await released
      return await write(redis, key, version, data, ttl)
    }
  }
}

for (const [name, writer, expected] of [['version CAS', casSet, 4], ['plain write', plainWrite, 3]] as const) {
  t.test(`fill of v3 held while the consumer applies v4, written with the ${name}: cache ends at v${expected}`, async (t) => {
    const app = await build(t, { role: 'read,consumer' }, NO_IDENTITY)
    const db = dbOf(app)
    const kafka = await publisher(t, app.config)
    await insertPosts(db, [postDoc(1, 3)])

    const gate = gated(writer)
    const cache = new ReadThrough<Post>({
      redis: app.redis,
      type: 'post',
      load: async (id) => await findPostVersioned(db, id),
      ttlSeconds: 3600,
      negativeTtlSeconds: 5,
      log: app.log,
      metrics: app.metrics,
      write: gate.write
    })
    const read = cache.getJson(1).then((found) => found === null ? null : JSON.parse(found.json) as Post)
    t.equal(await gate.reached, 3, 'the fill read version 3 from MongoDB and is about to write')

    // Meanwhile a like lands: MongoDB goes to v4 and its event goes through Kafka and the real consumer.
    await posts(db).updateOne({ _id: 1 }, { $inc: { like_count: 1, version: 1 } })
    await kafka.send([messageOf(eventOf(postDoc(1, 4)))])
    await waitFor('the consumer to apply v4', async () => (await entryOf(app.redis, 'post', 1))?.v === 4)

    const rejections = await metricValue(app.metrics.casRejections, { source: 'fill' })
    gate.release()
    t.equal((await read)?.like_count, 2, 'the held read still answers what it read (v3)')

    const entry = await entryOf(app.redis, 'post', 1)
    t.equal(entry?.v, expected, `the cache holds v${expected}`)
    t.equal((JSON.parse(entry!.d) as Post).like_count, expected - 1, 'with that version\'s data')
    if (writer === casSet) {
      t.equal(await metricValue(app.metrics.casRejections, { source: 'fill' }), rejections + 1, 'the stale fill was refused and counted')
      const after = await app.inject('/get_server/posts/1')
      t.equal(after.json().like_count, 3, 'readers see v4')
    } else {
      t.pass('a plain write lets the stale fill overwrite v4: the interleaving above really is the race')
    }
  })
}
