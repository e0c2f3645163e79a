// Id blocks: a create batch takes its ids from a block this process reserved from the collection's counter, so the
// counter (and, on a store without atomic updates, its lease in Redis, which write replicas take turns at) is asked
// about once per block instead of once per batch. A block is sized to the demand it saw (doubling while batches use
// blocks up, back to one batch when they do not) and lives BLOCK_TTL_MS at most: with several write replicas, a post
// can get a smaller id than another replica's post created up to that long before it, never longer (docs/design.md,
// Ids and creates). Ids left in an expired block are never handed out: ids only grow and are never reused.
// Each block carries a ticket its source opens before any id of it is handed out and closes once no more will be
// (used up, expired, or forgotten): the create journal's entry for the block (create-batcher.ts).

/** A block's ids go unused after this long, which bounds how far ids from two replicas can be out of time order. */
export const BLOCK_TTL_MS = 100
/** The largest block; a batch bigger than this still gets a block of its own size. */
export const MAX_BLOCK = 1024

/** Where blocks come from, and what each one carries. */
export interface BlockSource<T> {
  /** Reserves `count` consecutive ids from the counter and answers the first. */
  reserve: (count: number) => Promise<number>
  /** The ticket of a block of ids first, first + 1, ..., first + count - 1: ready before any of them is handed out. */
  open: (first: number, count: number) => Promise<T>
  /** Called once per block when no more of its ids will be handed out, with how many were (from its first on). */
  close: (ticket: T, used: number) => void
}

/** A batch's ids: first and on, and the ticket of the block they came from. */
export interface Taken<T> { first: number, ticket: T }

/** Runs fn after ms; answers how to cancel it. */
export type Schedule = (fn: () => void, ms: number) => () => void

const unrefTimer: Schedule = (fn, ms) => {
  const timer = setTimeout(fn, ms).unref()
  return () => { clearTimeout(timer) }
}

interface Block {
  /** The block's first id, the next id to hand out, and the first past the block. */
  start: number
  next: number
  end: number
  size: number
  reservedAt: number
  ticket: unknown
  close: (ticket: never, used: number) => void
  closed: boolean
  cancelTimer: () => void
}

export class IdBlocks {
  private readonly blocks = new Map<string, Block>()
  /** A refill in flight per key: concurrent batches wait for it instead of reserving a block each. */
  private readonly refills = new Map<string, Promise<void>>()

  constructor (private readonly now: () => number = Date.now, private readonly schedule: Schedule = unrefTimer) {}

  /** `count` consecutive ids for key (a database's collection), from its block or a new one. */
  async take<T> (key: string, count: number, source: BlockSource<T>): Promise<Taken<T>> {
    for (;;) {
      const taken = this.fromBlock<T>(key, count)
      if (taken !== undefined) return taken
      const inFlight = this.refills.get(key)
      if (inFlight !== undefined) {
        await inFlight
        continue
      }
      const refill = this.refill(key, count, source).finally(() => this.refills.delete(key))
      this.refills.set(key, refill)
      await refill
    }
  }

  /** Drops key's block: its ids turned out to be taken (the counter went back), so the next batch asks the counter. */
  forget (key: string): void {
    const b = this.blocks.get(key)
    if (b !== undefined) this.close(b)
    this.blocks.delete(key)
  }

  /** Closes every block (shutdown): their tickets learn how many ids were handed out. */
  closeAll (): void {
    for (const key of [...this.blocks.keys()]) this.forget(key)
  }

  private fromBlock<T> (key: string, count: number): Taken<T> | undefined {
    const b = this.blocks.get(key)
    if (b === undefined || b.closed || b.next + count > b.end || this.now() - b.reservedAt >= BLOCK_TTL_MS) return undefined
    b.next += count
    return { first: b.next - count, ticket: b.ticket as T }
  }

  private async refill<T> (key: string, count: number, source: BlockSource<T>): Promise<void> {
    const old = this.blocks.get(key)
    const fresh = old !== undefined && this.now() - old.reservedAt < BLOCK_TTL_MS
    // Used up while fresh: demand outgrew the block, so double it; otherwise one batch's worth is enough.
    const size = Math.max(count, fresh ? Math.min(old.size * 2, MAX_BLOCK) : count)
    const first = await source.reserve(size)
    // Contiguous with the old block's unused tail (nobody reserved in between, the usual case with one write replica):
    // keep that tail, so the next batch leaves no gap; no other replica can hold an id above it that it got earlier.
    // The tail then belongs to the new block (and its ticket): the old one closes at what it handed out.
    const start = old !== undefined && old.end === first ? old.next : first
    if (old !== undefined) this.close(old)
    const ticket = await source.open(start, first + size - start)
    const block: Block = {
      start,
      next: start,
      end: first + size,
      size,
      reservedAt: this.now(),
      ticket,
      close: source.close as Block['close'],
      closed: false,
      cancelTimer: () => {}
    }
    // Expired blocks close on time, so a ticket waiting for its block to close is not held by a lull in creates.
    block.cancelTimer = this.schedule(() => { this.close(block) }, BLOCK_TTL_MS)
    this.blocks.set(key, block)
  }

  private close (b: Block): void {
    if (b.closed) return
    b.closed = true
    b.cancelTimer()
    b.close(b.ticket as never, b.next - b.start)
  }
}
