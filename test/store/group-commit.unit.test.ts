// Group commit's withdrawal rule (issue 17, defect 7): a write whose signal aborts while it is queued leaves the queue
// at once and never reaches a batch; one whose batch has started is answered by that batch. And its linger: only under
// load does a batch wait for more writes, and only until as many are queued as the batch before held.
import t from 'tap'
import type { Db } from 'mongodb'
import { GroupCommit, type Waiter } from '../../src/store/group-commit.js'

interface Item extends Waiter<string> { name: string }

/** A queue whose batches wait for release(): what each batch held, in order. */
function gated (lingerMs = 0) {
  const batches: string[][] = []
  let release = (): void => {}
  const commit = new GroupCommit<Item>(10, async (_db, _q, batch) => {
    batches.push(batch.map((w) => w.name))
    await new Promise<void>((resolve) => { release = resolve })
    for (const w of batch) w.resolve(`done ${w.name}`)
  }, lingerMs)
  const db = {} as Db // only a key for the queue: nothing is sent to a store
  const add = (name: string, signal?: AbortSignal): Promise<string> =>
    new Promise((resolve, reject) => { commit.add(db, 'q', { name, resolve, reject, signal }) })
  return { batches, add, release: () => { release() } }
}

const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('a write aborted while queued is rejected at once with its reason, and never runs', async (t) => {
  const q = gated()
  const first = q.add('first')
  const leaving = new AbortController()
  const queued = q.add('leaves', leaving.signal)
  const stays = q.add('stays', new AbortController().signal)
  await tick()
  leaving.abort(new Error('client left'))
  await t.rejects(queued, { message: 'client left' }, 'answered as soon as it aborts, without waiting for the batch ahead')
  q.release()
  t.equal(await first, 'done first')
  await tick()
  q.release()
  t.equal(await stays, 'done stays')
  t.same(q.batches, [['first'], ['stays']], 'the withdrawn write was in no batch')
})

t.test('a write already aborted is not queued; one aborted after its batch started is answered by the batch', async (t) => {
  const q = gated()
  await t.rejects(q.add('late', AbortSignal.abort(new Error('gone'))), { message: 'gone' })
  const running = new AbortController()
  const started = q.add('running', running.signal)
  await tick()
  running.abort(new Error('too late to withdraw'))
  q.release()
  t.equal(await started, 'done running', 'its batch had started: the outcome is the batch\'s')
  t.same(q.batches, [['running']])
})

t.test('a requeued write aborted meanwhile does not run again', async (t) => {
  const seen: string[][] = []
  const leaving = new AbortController()
  const commit = new GroupCommit<Item>(10, async (_db, _q, batch, requeue) => {
    seen.push(batch.map((w) => w.name))
    if (seen.length === 1) {
      leaving.abort(new Error('left while deferred'))
      requeue(batch)
      return
    }
    for (const w of batch) w.resolve(w.name)
  })
  const db = {} as Db
  const add = (name: string, signal?: AbortSignal): Promise<string> =>
    new Promise((resolve, reject) => { commit.add(db, 'q', { name, resolve, reject, signal }) })
  const deferred = add('deferred', leaving.signal)
  const other = add('other')
  await t.rejects(deferred, { message: 'left while deferred' })
  t.equal(await other, 'other')
  t.same(seen, [['deferred'], ['other']])
})

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Runs [a], then [b, c], through q: its last batch held several writes and has just ended (the load signal). */
async function underLoad (q: ReturnType<typeof gated>): Promise<void> {
  const a = q.add('a')
  await tick()
  const b = q.add('b')
  const c = q.add('c')
  q.release()
  await a
  await tick()
  q.release()
  await Promise.all([b, c])
  await tick()
}

t.test('idle, or one write at a time: a batch starts at once, however long the linger', async (t) => {
  const q = gated(60_000)
  const lone = q.add('lone')
  await tick()
  t.same(q.batches, [['lone']], 'started without waiting')
  q.release()
  t.equal(await lone, 'done lone')
  const next = q.add('next')
  await tick()
  t.same(q.batches, [['lone'], ['next']], 'a batch of one says nothing of load: the next starts at once too')
  q.release()
  await next
})

t.test('under load (the batch before held several writes and just ended) a batch waits for more to join it', async (t) => {
  const q = gated(50)
  await underLoad(q)
  t.same(q.batches, [['a'], ['b', 'c']], 'after a batch of one the next started at once')

  const h = q.add('h')
  await sleep(10)
  t.same(q.batches.at(-1), ['b', 'c'], 'after a batch of several that just ended, h waits for company')
  const i = q.add('i')
  await tick()
  t.same(q.batches.at(-1), ['h', 'i'], 'and i, arriving while it lingered, joins it: as many as the batch before, so it starts then')
  q.release()
  await Promise.all([h, i])

  await sleep(20) // longer ago than the load signal lasts
  const j = q.add('j')
  await tick()
  t.same(q.batches.at(-1), ['j'], 'a batch that ended a while ago says nothing of load now: j starts at once')
  q.release()
  await j
})

t.test('under load, a batch that stays short of the one before starts when the linger is over', async (t) => {
  const q = gated(50)
  await underLoad(q)
  const started = performance.now()
  const k = q.add('k')
  await sleep(20)
  t.same(q.batches.at(-1), ['b', 'c'], 'k waits for company')
  await sleep(50)
  t.same(q.batches.at(-1), ['k'], 'none came: k went alone')
  t.ok(performance.now() - started >= 50, 'after the whole linger')
  q.release()
  await k
})

t.test('a write withdrawn while its batch lingers leaves no empty batch behind', async (t) => {
  const q = gated(50)
  await underLoad(q)
  const leaving = new AbortController()
  const lone = q.add('leaves', leaving.signal)
  leaving.abort(new Error('client left'))
  await t.rejects(lone, { message: 'client left' })
  await sleep(70)
  t.same(q.batches, [['a'], ['b', 'c']], 'nothing ran for it')
  const after = q.add('after')
  await tick()
  t.same(q.batches.at(-1), ['after'], 'the queue still works')
  q.release()
  await after
})
