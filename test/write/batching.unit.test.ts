// The write path's batching, its in-memory parts alone (no server): known authors are remembered but unknown ones never
// are (KnownIds), and pending-mark clears are coalesced, newest version only (MarkClearer). (Against the stack:
// batching.test.ts.)
import t from 'tap'
import pino from 'pino'
import { MarkClearer, type Published } from '../../src/outbox/mark-clearer.js'
import { KnownIds } from '../../src/store/known-ids.js'
import { waitFor } from '../helper/index.js'

const silent = pino({ level: 'silent' })

t.test('KnownIds: positives only, one lookup per id at a time, least recently used out', async (t) => {
  const known = new KnownIds(2)
  let lookups = 0
  const slowYes = async (): Promise<boolean> => { lookups++; await new Promise((resolve) => setTimeout(resolve, 20)); return true }
  t.same(await Promise.all(Array.from({ length: 10 }, async () => await known.check('db', 1, slowYes))), Array(10).fill(true))
  t.equal(lookups, 1, 'ten concurrent checks of one id: one lookup')
  t.equal(await known.check('db', 1, slowYes), true)
  t.equal(lookups, 1, 'a remembered yes needs no lookup')

  let answer = false
  const flip = async (): Promise<boolean> => { lookups++; return answer }
  t.equal(await known.check('db', 2, flip), false)
  t.equal(await known.check('db', 2, flip), false)
  t.equal(lookups, 3, 'a no is asked again every time')
  answer = true
  t.equal(await known.check('db', 2, flip), true, 'and a yes counts at once')
  t.equal(await known.check('other', 1, flip), true, 'namespaces are apart')
  t.equal(lookups, 5)
  t.equal(known.size, 2, 'bounded')
  await known.check('db', 2, flip)
  t.equal(lookups, 5, 'the recently used id stayed')
  await known.check('db', 1, flip)
  t.equal(lookups, 6, 'the least recently used one left')

  const failing = new KnownIds(10)
  await t.rejects(failing.check('db', 9, async () => { throw new Error('mongo down') }), /mongo down/)
  t.equal(await failing.check('db', 9, async () => true), true, 'a failed lookup is not remembered either')
})

t.test('MarkClearer: coalesces, keeps the newest version, tells the relay what is only waiting for its clear', async (t) => {
  const calls: Published[][] = []
  let release!: () => void
  let gate = new Promise<void>((resolve) => { release = resolve })
  const clearer = new MarkClearer(async (events) => { calls.push(events); await gate }, silent)
  clearer.add([{ type: 'post', id: 1, version: 1 }])
  clearer.add([{ type: 'post', id: 2, version: 1 }, { type: 'post', id: 2, version: 3 }])
  clearer.add([{ type: 'post', id: 2, version: 2 }, { type: 'user', id: 2, version: 1 }])
  t.same(calls, [[{ type: 'post', id: 1, version: 1 }]], 'the first clear starts at once')
  t.ok(clearer.awaitsClear('post', 1, 1), 'being cleared')
  t.ok(clearer.awaitsClear('post', 2, 3), 'waiting')
  t.notOk(clearer.awaitsClear('post', 2, 2), 'an older version was never held for clearing')
  t.notOk(clearer.awaitsClear('post', 3, 1))
  const gateOne = release
  gate = new Promise<void>((resolve) => { release = resolve })
  gateOne()
  await waitFor('the second clear to start', async () => calls.length === 2, 2000)
  t.same(calls[1], [{ type: 'post', id: 2, version: 3 }, { type: 'user', id: 2, version: 1 }], 'everything queued meanwhile went in one clear, newest versions only')
  release()
  await clearer.idle()
  t.notOk(clearer.awaitsClear('post', 2, 3), 'cleared')

  let attempts = 0
  const broken = new MarkClearer(async () => { attempts++; throw new Error('mongo down') }, silent)
  broken.add([{ type: 'post', id: 1, version: 1 }])
  broken.add([{ type: 'post', id: 2, version: 1 }])
  await broken.idle()
  t.ok(attempts <= 2, 'a failing clear is not retried in a loop')
  t.notOk(broken.awaitsClear('post', 2, 1), 'what it held is left to the relay')
})
