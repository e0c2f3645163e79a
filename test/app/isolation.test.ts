// State belongs to the app: two apps built in one process share no metric, lock, batcher, known user or model.
import t from 'tap'
import { build, createUser, metricValue } from '../helper/index.js'

t.test('two apps in one process share nothing', async (t) => {
  const a = await build(t, { role: 'all' })
  const b = await build(t, { role: 'all' })
  t.not(a.metrics, b.metrics)
  t.not(a.metrics.registry, b.metrics.registry)
  t.not(a.store, b.store)
  t.not(a.store.creates, b.store.creates)
  t.not(a.store.knownUsers, b.store.knownUsers)
  t.not(a.reads, b.reads)
  t.not(a.writes, b.writes)
  t.not(a.publisher, b.publisher)

  const { user_id: id } = await createUser(a, 'only-in-a')
  t.equal(a.store.knownUsers.size, 1, 'the creating app remembers its user')
  t.equal(b.store.knownUsers.size, 0, 'the other app does not')
  t.equal((await a.inject(`/get_server/users/${id}`)).statusCode, 200)
  t.equal(await metricValue(a.metrics.httpRequests, { method: 'GET', route: '/get_server/users/:id', status: '200' }), 1)
  t.equal(await metricValue(b.metrics.httpRequests, { method: 'GET', route: '/get_server/users/:id', status: '200' }), 0,
    'a request to one app is not counted by the other')
  t.equal(await metricValue(b.metrics.httpRequests, { method: 'POST', route: '/post_server/users', status: '201' }), 0)
})
