// Single flight: concurrent callers share one call; doFresh shares only a call begun after the caller's mark, waiting
// out an older one, and every caller that arrives meanwhile shares the one call after it.
import t from 'tap'
import { SingleFlight } from '../../src/shared/single-flight.js'

/** A call the test finishes by hand, counting how many began. */
function gatedCalls (): { fn: () => Promise<number>, began: () => number, finish: () => void } {
  const pending: Array<() => void> = []
  let began = 0
  return {
    fn: async () => {
      const n = ++began
      await new Promise<void>((resolve) => pending.push(resolve))
      return n
    },
    began: () => began,
    finish: () => { for (const resolve of pending.splice(0)) resolve() }
  }
}

t.test('do: concurrent callers share one call, and its error', async (t) => {
  const flight = new SingleFlight<string, number>()
  const calls = gatedCalls()
  let joins = 0
  const all = Promise.all([1, 2, 3].map(async () => await flight.do('k', calls.fn, () => { joins++ })))
  calls.finish()
  t.same(await all, [1, 1, 1])
  t.equal(joins, 2)
  const failing = async (): Promise<number> => { throw new Error('down') }
  await t.rejects(Promise.all([flight.do('k', failing), flight.do('k', failing)]), /down/)
})

t.test('doFresh: a call begun after the mark is joined; one begun before is waited out, and the next one shared', async (t) => {
  const flight = new SingleFlight<string, number>()
  const calls = gatedCalls()
  const before = flight.mark()
  const running = flight.do('k', calls.fn)
  const after = flight.mark()
  const joined = flight.doFresh('k', before, calls.fn)
  t.equal(calls.began(), 1, 'a call begun after the mark is fresh enough: joined')

  const waiting = [flight.doFresh('k', after, calls.fn), flight.doFresh('k', after, calls.fn)]
  t.equal(calls.began(), 1, 'callers marked after the running call began wait for it')
  calls.finish()
  t.same([await running, await joined], [1, 1])
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(calls.began(), 2, 'then one call begins for all of them')
  calls.finish()
  t.same(await Promise.all(waiting), [2, 2], 'and they share it')

  const alone = flight.doFresh('k', flight.mark(), calls.fn)
  calls.finish()
  t.equal(await alone, 3, 'with nothing running, it simply runs')
  await flight.idle()
})

t.test('doFresh: a failed call waited out still gives the waiters a call of their own', async (t) => {
  const flight = new SingleFlight<string, number>()
  const failing = flight.do('k', async () => { throw new Error('down') })
  const fresh = flight.doFresh('k', flight.mark(), async () => 7)
  await t.rejects(failing, /down/)
  t.equal(await fresh, 7)
  await flight.idle()
})
