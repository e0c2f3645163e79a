// Id blocks alone (the counter is a number here; the store's counter, leased across replicas, is in
// test/write/batching.test.ts and test/write/replicas.test.ts): blocks grow with demand, the unused tail of a block
// is kept when the next block follows it, and an expired block's ids are never handed out once another replica has
// reserved past them.
import t from 'tap'
import { BLOCK_TTL_MS, IdBlocks, MAX_BLOCK } from '../../src/store/id-blocks.js'

/** A shared counter, as the store's is, counting the reservations made of it. */
function counter (): { reserve: (count: number) => Promise<number>, seq: number, calls: number } {
  const c = {
    seq: 0,
    calls: 0,
    reserve: async (count: number): Promise<number> => {
      c.calls++
      c.seq += count
      return c.seq - count + 1
    }
  }
  return c
}

t.test('batches that use blocks up make them grow: far fewer reservations than batches, and no gap', async (t) => {
  const clock = { now: 0 }
  const blocks = new IdBlocks(() => clock.now)
  const c = counter()
  const firsts: number[] = []
  for (let i = 0; i < 100; i++) firsts.push(await blocks.take('db/posts', 10, c.reserve))
  t.same(firsts, Array.from({ length: 100 }, (_, i) => i * 10 + 1), 'consecutive, in order, no gap')
  t.ok(c.calls <= 8, `${c.calls} reservations for 100 batches`)
  t.ok(c.seq - 1000 < 1000, `the counter is ahead of the ids handed out by less than the last block (${c.seq - 1000})`)
})

t.test('a block grows no larger than MAX_BLOCK, and a batch larger than that gets a block of its own size', async (t) => {
  const clock = { now: 0 }
  const blocks = new IdBlocks(() => clock.now)
  const c = counter()
  for (let i = 0; i < 50; i++) await blocks.take('k', 100, c.reserve)
  const before = c.seq
  await blocks.take('k', MAX_BLOCK * 2, c.reserve)
  t.ok(c.seq - before <= MAX_BLOCK * 2, 'the big batch reserved no more than it needs beyond the tail')
  t.ok(c.calls >= Math.floor(5000 / MAX_BLOCK), `blocks stayed bounded (${c.calls} reservations for 5,000 ids)`)
})

t.test('an expired block is not used; its tail is kept only when nothing was reserved after it', async (t) => {
  const clock = { now: 0 }
  const blocks = new IdBlocks(() => clock.now)
  const c = counter()
  t.equal(await blocks.take('k', 1, c.reserve), 1)
  t.equal(await blocks.take('k', 1, c.reserve), 2, 'used up while fresh: the next block is 2 ids')
  t.equal(c.seq, 3)
  clock.now += BLOCK_TTL_MS
  t.equal(await blocks.take('k', 1, c.reserve), 3, 'expired, but the counter is still at its end: its tail goes on with no gap')
  clock.now += BLOCK_TTL_MS
  c.seq += 50 // another replica reserved ids meanwhile
  const next = await blocks.take('k', 1, c.reserve)
  t.equal(next, 55, 'expired and another replica reserved after it: a fresh id above theirs, the old tail left unused')
  t.equal(await blocks.take('k', 1, c.reserve), 56, 'and on from there')
})

t.test('concurrent batches share one reservation in flight, and a failed reservation fails the batches waiting on it', async (t) => {
  const blocks = new IdBlocks(() => 0)
  const c = counter()
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const slow = async (count: number): Promise<number> => { await gate; return await c.reserve(count) }
  const pending = [blocks.take('k', 3, slow), blocks.take('k', 2, slow), blocks.take('k', 1, slow)]
  release()
  const firsts = await Promise.all(pending)
  t.same(new Set(firsts.flatMap((f, i) => Array.from({ length: [3, 2, 1][i]! }, (_, j) => f + j))).size, 6, 'six distinct ids')
  t.ok(c.calls < 3, `${c.calls} reservations for three batches`)

  const failing = new IdBlocks(() => 0)
  const broken = async (): Promise<number> => { throw new Error('store unreachable') }
  await t.rejects(Promise.all([failing.take('k', 1, broken), failing.take('k', 1, broken)]), /store unreachable/)
  t.equal(await failing.take('k', 1, c.reserve), c.seq, 'and the next batch reserves afresh')
})

t.test('forget drops a block whose ids turned out to be taken', async (t) => {
  const blocks = new IdBlocks(() => 0)
  const c = counter()
  await blocks.take('k', 1, c.reserve)
  await blocks.take('k', 1, c.reserve) // a block of 2: id 3 is still unused
  blocks.forget('k')
  c.seq += 10 // where the counter really is
  t.equal(await blocks.take('k', 1, c.reserve), 14, 'the unused id 3 is not handed out; the counter decides')
})
