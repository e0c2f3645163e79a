// The role manifest as data: what each role registers, connects to and serves.
import t from 'tap'
import { ROLE_MANIFEST, checksIdentity, parseRoles, pluginsFor, seriesOwners, usesDependency } from '../../src/shared/roles.js'

t.test('each role registers only its plugins, in one fixed order', async (t) => {
  t.same(pluginsFor(parseRoles('consumer')), ['redis', 'kafka', 'consumer'])
  t.same(pluginsFor(parseRoles('read')), ['redis', 'mongo-read', 'store', 'identity', 'near-cache', 'reads'])
  t.same(pluginsFor(parseRoles('write')), ['redis', 'mongo-write', 'store', 'kafka', 'identity', 'writes'])
  t.same(pluginsFor(parseRoles('all')), ['redis', 'mongo-read', 'mongo-write', 'store', 'kafka', 'identity', 'near-cache', 'reads', 'writes', 'consumer'])
})

t.test('MongoDB only for read and write, Kafka only for write and consumer, Redis for all', async (t) => {
  t.same(['read', 'write', 'consumer'].map((r) => usesDependency(parseRoles(r), 'mongo')), [true, true, false])
  t.same(['read', 'write', 'consumer'].map((r) => usesDependency(parseRoles(r), 'kafka')), [false, true, true])
  t.same(['read', 'write', 'consumer'].map((r) => usesDependency(parseRoles(r), 'redis')), [true, true, true])
  t.equal(ROLE_MANIFEST.consumer.routes, null, 'the consumer serves no data routes')
})

t.test('identity: reads always, writes only under --auth-writes, the consumer never', async (t) => {
  t.equal(checksIdentity(parseRoles('read'), false), true)
  t.equal(checksIdentity(parseRoles('write'), false), false)
  t.equal(checksIdentity(parseRoles('write'), true), true)
  t.equal(checksIdentity(parseRoles('consumer'), true), false)
})

t.test('series owners', async (t) => {
  t.same(seriesOwners('pb_cache_lookups_total'), ['read'])
  t.same(seriesOwners('pb_post_index_rebuilds_total'), ['read', 'consumer'])
  t.same(seriesOwners('pb_identity_verdicts_total'), ['read', 'write'])
  t.same(seriesOwners('pb_http_requests_total'), [], 'every role serves HTTP series')
  t.same(seriesOwners('pb_cache_cas_rejections_total'), [], 'every role can be refused by the CAS')
})
