// The invoke gate: never more verifications in flight than allowed, clients served in turn, a full queue refused at
// once and a turn not reached in time given up, both as outages (VerifierUnavailableError: 503, fail closed).
import t from 'tap'
import { InvokeGate } from '../../src/identity/invoke-gate.js'
import { VerifierUnavailableError } from '../../src/identity/verifier.js'

/** A task that runs until released, recording its name when it starts and the most in flight at once. */
function tasks (): { started: string[], peak: () => number, task: (name: string) => () => Promise<string>, release: () => void } {
  const started: string[] = []
  const pending: Array<() => void> = []
  let running = 0
  let peak = 0
  return {
    started,
    peak: () => peak,
    task: (name) => async () => {
      started.push(name)
      peak = Math.max(peak, ++running)
      await new Promise<void>((resolve) => pending.push(resolve))
      running--
      return name
    },
    release: () => { pending.shift()?.() }
  }
}

const settle = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('one in flight; clients taken in turn, not in arrival order', async (t) => {
  const gate = new InvokeGate({ concurrency: 1, perClient: 10, total: 100, maxWaitMs: 10_000 })
  const { started, peak, task, release } = tasks()
  const results = [
    ...['a1', 'a2', 'a3', 'a4'].map((n) => gate.run('flooder', task(n))),
    gate.run('other', task('b1'))
  ]
  await settle()
  t.same(started, ['a1'], 'one runs, the rest wait')
  t.equal(gate.queued, 4)
  for (let i = 0; i < 5; i++) { release(); await settle() }
  t.same(await Promise.all(results), ['a1', 'a2', 'a3', 'a4', 'b1'], 'each gets its own result')
  t.same(started, ['a1', 'a2', 'b1', 'a3', 'a4'], 'the other client is served after one turn of the flooder, not after all of it')
  t.equal(peak(), 1, 'never two at once')
  t.equal(gate.inFlight, 0)
  t.equal(gate.queued, 0)
})

t.test('a full queue refuses at once; a turn not reached in time gives up', async (t) => {
  const gate = new InvokeGate({ concurrency: 1, perClient: 2, total: 3, maxWaitMs: 50 })
  const { task, release } = tasks()
  const first = gate.run('a', task('a0'))
  const waiting = [gate.run('a', task('a1')), gate.run('a', task('a2'))]
  await t.rejects(gate.run('a', task('a3')), /too many verifications waiting/, 'the client\'s queue is full')
  const b = gate.run('b', task('b1'))
  await t.rejects(gate.run('c', task('c1')), /too many verifications waiting/, 'the whole queue is full')
  t.same(gate.refused, { full: 2, late: 0 })
  for (const p of [...waiting, b]) await t.rejects(p, /no verification slot within 50 ms/, 'gave up waiting')
  t.same(gate.refused, { full: 2, late: 3 })
  t.equal(gate.queued, 0, 'the abandoned turns left the queue')
  release()
  t.equal(await first, 'a0', 'the one in flight still finished')
  const after = gate.run('a', task('a4'))
  await settle()
  release()
  t.equal(await after, 'a4', 'served again once free')
})

t.test('a failing task frees its slot', async (t) => {
  const gate = new InvokeGate({ concurrency: 1, perClient: 5, total: 5, maxWaitMs: 1000 })
  const failing = gate.run('a', async () => { throw new VerifierUnavailableError('down') })
  const next = gate.run('b', async () => 'ok')
  await t.rejects(failing, /down/)
  t.equal(await next, 'ok')
  t.equal(gate.inFlight, 0)
})
