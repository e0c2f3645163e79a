// Request ids: this process's random prefix and a counter, so a request's log lines share an id that no other replica
// hands out. (Through the app, with the router's X-Request-Id: request-id.test.ts.)
import t from 'tap'
import { requestIdGenerator } from '../../src/shared/request-id.js'

t.test('ids are distinct, share their process prefix, and two processes have different prefixes', async (t) => {
  const next = requestIdGenerator()
  const ids = Array.from({ length: 1000 }, () => next())
  t.equal(new Set(ids).size, 1000, 'no repeats')
  t.ok(ids.every((id) => /^[0-9a-f]{12}-[0-9a-z]+$/.test(id)), 'prefix-counter')
  t.equal(new Set(ids.map((id) => id.split('-')[0])).size, 1, 'one prefix per generator')
  t.not(requestIdGenerator()().split('-')[0], ids[0]!.split('-')[0], 'another process (generator) has its own prefix')
})
