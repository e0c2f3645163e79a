// Chaos tier, redis: toxiproxy between the app and redis, and mixed load (likes, creates, reads) run through each fault in
// turn (test/helper/chaos.ts). Figures per fault: requests answered within their bound, 5xx (documented 503s only),
// acknowledged writes lost, stale keys after convergence, time to converge.
import t from 'tap'
import { chaosApp, FAULTS, report, runFault } from '../helper/index.js'

t.test('redis faults: every request answered in its bound, only documented 503s, nothing lost, nothing stale', async (t) => {
  const ctx = await chaosApp(t, 'chaos-redis')
  for (const [i, fault] of FAULTS.entries()) {
    await t.test(fault.name, async (t) => {
      report(t, `chaos redis ${fault.name}`, await runFault(ctx, 'redis', fault.toxic, 100 + i))
    })
  }
})
