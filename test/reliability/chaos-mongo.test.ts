// Chaos tier, mongo: toxiproxy between the app and mongo, and mixed load (likes, creates, reads) run through each fault in
// turn (test/helper/chaos.ts). Figures per fault: requests answered within their bound, 5xx (documented 503s only),
// acknowledged writes lost, stale keys after convergence, time to converge.
import t from 'tap'
import { chaosApp, FAULTS, report, runFault } from '../helper/index.js'

t.test('mongo faults: every request answered in its bound, only documented 503s, nothing lost, nothing stale', async (t) => {
  const ctx = await chaosApp(t, 'chaos-mongo')
  for (const [i, fault] of FAULTS.entries()) {
    await t.test(fault.name, async (t) => {
      report(t, `chaos mongo ${fault.name}`, await runFault(ctx, 'mongo', fault.toxic, 100 + i))
    })
  }
})
