// kafkajs's request queue, as src/bus/kafkajs-request-queue.ts leaves it, on a real broker: an idle connection no
// longer wakes every millisecond, no negative timer is armed (Node.js 24 warns of each), and requests still flow.
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import kafkajs from 'kafkajs'
import '../../src/bus/kafka.js'
import { publisher, testConfig, uniqueName } from '../helper/index.js'

const require = createRequire(import.meta.url)
const { prototype } = require('kafkajs/src/network/requestQueue/index.js') as { prototype: { checkPendingRequests: () => void } }

t.test('an idle producer connection checks its queue only when a request waits', async (t) => {
  const checks = { count: 0 }
  const original = prototype.checkPendingRequests
  prototype.checkPendingRequests = function (this: unknown) { checks.count++; original.call(this) }
  t.teardown(() => { prototype.checkPendingRequests = original })
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.name) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })

  const config = testConfig({ role: 'write' })
  const topic = uniqueName('rq')
  const admin = new kafkajs.Kafka({ brokers: config.kafkaBrokers, clientId: 'pbtest', logLevel: kafkajs.logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })
  t.teardown(async () => { await admin.deleteTopics({ topics: [topic] }).catch(() => {}); await admin.disconnect() })
  const p = await publisher(t, config)
  for (let i = 0; i < 20; i++) await p.send([{ key: `k${i}`, value: 'v' }], topic)
  const before = checks.count
  await sleep(500)
  // Unpatched, every answered request left a 1 ms timer re-arming itself: hundreds of checks per connection here.
  t.ok(checks.count - before < 20, `idle for 500 ms: ${checks.count - before} queue checks`)
  t.notOk(warnings.includes('TimeoutNegativeWarning'), 'no negative timer was armed')
})
