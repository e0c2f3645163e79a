// Id blocks alone (the counter is a number here; the store's counter, leased across replicas, is in
// test/write/batching.test.ts and test/write/replicas.test.ts): blocks grow with demand, the unused tail of a block
// is kept when the next block follows it, and an expired block's ids are never handed out once another replica has
// reserved past them.
import t from 'tap'
import { BLOCK_TTL_MS, IdBlocks, MAX_BLOCK, type BlockSource, type Schedule, type Taken } from '../../src/store/id-blocks.js'

/** A block's ticket as the source saw it: the ids it names, and how many were handed out once it closed. */
interface Ticket { first: number, count: number, used?: number, closes: number }

/** A shared counter, as the store's is, counting the reservations made of it; its blocks' tickets in order. */
function counter (): { reserve: (count: number) => Promise<number>, source: BlockSource<Ticket>, tickets: Ticket[], seq: number, calls: number } {
  const c = {
    seq: 0,
    calls: 0,
    tickets: [] as Ticket[],
    reserve: async (count: number): Promise<number> => {
      c.calls++
      c.seq += count
      return c.seq - count + 1
    },
    source: {
      reserve: async (count: number): Promise<number> => await c.reserve(count),
      open: async (first: number, count: number): Promise<Ticket> => {
        const ticket: Ticket = { first, count, closes: 0 }
        c.tickets.push(ticket)
        return ticket
      },
      close: (ticket: Ticket, used: number): void => {
        ticket.used = used
        ticket.closes++
      }
    }
  }
  return c
}

/** A source reserving through `reserve` instead of the counter's own. */
function via (c: ReturnType<typeof counter>, reserve: (count: number) => Promise<number>): BlockSource<Ticket> {
  return { ...c.source, reserve }
}

/** Timers run only when the test says so. */
function manualTimers (): { schedule: Schedule, fire: () => void } {
  let due: Array<() => void> = []
  return {
    schedule: (fn) => {
      due.push(fn)
      return () => { due = due.filter((f) => f !== fn) }
    },
    fire: () => { const now = due; due = []; for (const fn of now) fn() }
  }
}

const first = async (taken: Promise<Taken<Ticket>>): Promise<number> => (await taken).first

t.test('batches that use blocks up make them grow: far fewer reservations than batches, and no gap', async (t) => {
  const clock = { now: 0 }
  const blocks = new IdBlocks(() => clock.now, manualTimers().schedule)
  const c = counter()
  const firsts: number[] = []
  for (let i = 0; i < 100; i++) firsts.push(await first(blocks.take('db/posts', 10, c.source)))
  t.same(firsts, Array.from({ length: 100 }, (_, i) => i * 10 + 1), 'consecutive, in order, no gap')
  t.ok(c.calls <= 8, `${c.calls} reservations for 100 batches`)
  t.ok(c.seq - 1000 < 1000, `the counter is ahead of the ids handed out by less than the last block (${c.seq - 1000})`)
})

t.test('a block grows no larger than MAX_BLOCK, and a batch larger than that gets a block of its own size', async (t) => {
  const clock = { now: 0 }
  const blocks = new IdBlocks(() => clock.now, manualTimers().schedule)
  const c = counter()
  for (let i = 0; i < 50; i++) await first(blocks.take('k', 100, c.source))
  const before = c.seq
  await first(blocks.take('k', MAX_BLOCK * 2, c.source))
  t.ok(c.seq - before <= MAX_BLOCK * 2, 'the big batch reserved no more than it needs beyond the tail')
  t.ok(c.calls >= Math.floor(5000 / MAX_BLOCK), `blocks stayed bounded (${c.calls} reservations for 5,000 ids)`)
})

t.test('an expired block is not used; its tail is kept only when nothing was reserved after it', async (t) => {
  const clock = { now: 0 }
  const blocks = new IdBlocks(() => clock.now, manualTimers().schedule)
  const c = counter()
  t.equal(await first(blocks.take('k', 1, c.source)), 1)
  t.equal(await first(blocks.take('k', 1, c.source)), 2, 'used up while fresh: the next block is 2 ids')
  t.equal(c.seq, 3)
  clock.now += BLOCK_TTL_MS
  t.equal(await first(blocks.take('k', 1, c.source)), 3, 'expired, but the counter is still at its end: its tail goes on with no gap')
  clock.now += BLOCK_TTL_MS
  c.seq += 50 // another replica reserved ids meanwhile
  const next = await first(blocks.take('k', 1, c.source))
  t.equal(next, 55, 'expired and another replica reserved after it: a fresh id above theirs, the old tail left unused')
  t.equal(await first(blocks.take('k', 1, c.source)), 56, 'and on from there')
})

t.test('concurrent batches share one reservation in flight, and a failed reservation fails the batches waiting on it', async (t) => {
  const blocks = new IdBlocks(() => 0, manualTimers().schedule)
  const c = counter()
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const slow = async (count: number): Promise<number> => { await gate; return await c.reserve(count) }
  const pending = [first(blocks.take('k', 3, via(c, slow))), first(blocks.take('k', 2, via(c, slow))), first(blocks.take('k', 1, via(c, slow)))]
  release()
  const firsts = await Promise.all(pending)
  t.same(new Set(firsts.flatMap((f, i) => Array.from({ length: [3, 2, 1][i]! }, (_, j) => f + j))).size, 6, 'six distinct ids')
  t.ok(c.calls < 3, `${c.calls} reservations for three batches`)

  const failing = new IdBlocks(() => 0, manualTimers().schedule)
  const broken = async (): Promise<number> => { throw new Error('store unreachable') }
  await t.rejects(Promise.all([failing.take('k', 1, via(c, broken)), failing.take('k', 1, via(c, broken))]), /store unreachable/)
  t.equal(await first(failing.take('k', 1, c.source)), c.seq, 'and the next batch reserves afresh')
})

t.test('forget drops a block whose ids turned out to be taken', async (t) => {
  const blocks = new IdBlocks(() => 0, manualTimers().schedule)
  const c = counter()
  await first(blocks.take('k', 1, c.source))
  await first(blocks.take('k', 1, c.source)) // a block of 2: id 3 is still unused
  blocks.forget('k')
  c.seq += 10 // where the counter really is
  t.equal(await first(blocks.take('k', 1, c.source)), 14, 'the unused id 3 is not handed out; the counter decides')
})

t.test('every id handed out is named by the ticket of its block, opened before it was handed out', async (t) => {
  const clock = { now: 0 }
  const timers = manualTimers()
  const blocks = new IdBlocks(() => clock.now, timers.schedule)
  const c = counter()
  const ids: Array<{ id: number, opened: number }> = []
  for (let i = 0; i < 40; i++) {
    const n = 1 + (i % 4)
    const { first: f, ticket } = await blocks.take('k', n, c.source)
    t.ok(c.tickets.includes(ticket), 'a ticket its source opened')
    for (let j = 0; j < n; j++) {
      ids.push({ id: f + j, opened: c.tickets.indexOf(ticket) })
      t.ok(f + j >= ticket.first && f + j < ticket.first + ticket.count, `id ${f + j} inside its block's ticket`)
    }
    // Every few batches the block expires: its tail moves to the next block, and its ticket must not name it too.
    if (i % 7 === 6) clock.now += BLOCK_TTL_MS
  }
  // No id is in two tickets, so the journal never names an id twice, even when a tail moves on to the next block.
  for (const { id } of ids) t.equal(c.tickets.filter((k) => id >= k.first && id < k.first + (k.used ?? k.count)).length, 1, `id ${id} in exactly one block`)
})

t.test('a block closes exactly once, with how many of its ids were handed out: used up, expired, forgotten, at shutdown', async (t) => {
  const clock = { now: 0 }
  const timers = manualTimers()
  const blocks = new IdBlocks(() => clock.now, timers.schedule)
  const c = counter()
  await blocks.take('k', 1, c.source)
  await blocks.take('k', 1, c.source) // the first block (1 id) was used up: it closes as the second opens
  t.same(c.tickets.map((k) => [k.first, k.count, k.used, k.closes]), [[1, 1, 1, 1], [2, 2, undefined, 0]], 'used up: closed with 1 of 1')

  timers.fire() // the second block's time is up
  t.same([c.tickets[1]!.used, c.tickets[1]!.closes], [1, 1], 'expired on its timer: closed with 1 of 2, though nothing asked for ids')
  clock.now += BLOCK_TTL_MS
  const { first: third, ticket } = await blocks.take('k', 1, c.source)
  t.equal(third, 3, 'the expired block\'s unused id goes on in the next block')
  t.same([ticket.first, c.tickets[1]!.closes], [3, 1], 'which names it; the expired block was not closed a second time')

  blocks.forget('k')
  t.same([ticket.used, ticket.closes], [1, 1], 'forgotten: closed')
  await blocks.take('other', 2, c.source)
  blocks.closeAll()
  t.same([c.tickets.at(-1)!.used, c.tickets.at(-1)!.closes], [2, 1], 'closeAll closes what is open')
  timers.fire()
  t.ok(c.tickets.every((k) => k.closes === 1), 'and no timer closes anything twice')
})
