// Id blocks: a create batch takes its ids from a block this process reserved from the collection's counter, so the
// counter (and, on a store without atomic updates, its lease in Redis, which write replicas take turns at) is asked
// about once per block instead of once per batch. A block is sized to the demand it saw (doubling while batches use
// blocks up, back to one batch when they do not) and lives BLOCK_TTL_MS at most: with several write replicas, a post
// can get a smaller id than another replica's post created up to that long before it, never longer (docs/design.md,
// Ids and creates). Ids left in an expired block are never handed out: ids only grow and are never reused.

/** A block's ids go unused after this long, which bounds how far ids from two replicas can be out of time order. */
export const BLOCK_TTL_MS = 100
/** The largest block; a batch bigger than this still gets a block of its own size. */
export const MAX_BLOCK = 1024

/** Reserves `count` consecutive ids from the counter and answers the first. */
export type Reserve = (count: number) => Promise<number>

interface Block {
  /** The next id to hand out, and the first past the block. */
  next: number
  end: number
  size: number
  reservedAt: number
}

export class IdBlocks {
  private readonly blocks = new Map<string, Block>()
  /** A refill in flight per key: concurrent batches wait for it instead of reserving a block each. */
  private readonly refills = new Map<string, Promise<void>>()

  constructor (private readonly now: () => number = Date.now) {}

  /** The first of `count` consecutive ids for key (a database's collection), from its block or a new one. */
  async take (key: string, count: number, reserve: Reserve): Promise<number> {
    for (;;) {
      const first = this.fromBlock(key, count)
      if (first !== undefined) return first
      const inFlight = this.refills.get(key)
      if (inFlight !== undefined) {
        await inFlight
        continue
      }
      const refill = this.refill(key, count, reserve).finally(() => this.refills.delete(key))
      this.refills.set(key, refill)
      await refill
    }
  }

  /** Drops key's block: its ids turned out to be taken (the counter went back), so the next batch asks the counter. */
  forget (key: string): void {
    this.blocks.delete(key)
  }

  private fromBlock (key: string, count: number): number | undefined {
    const b = this.blocks.get(key)
    if (b === undefined || b.next + count > b.end || this.now() - b.reservedAt >= BLOCK_TTL_MS) return undefined
    b.next += count
    return b.next - count
  }

  private async refill (key: string, count: number, reserve: Reserve): Promise<void> {
    const old = this.blocks.get(key)
    const fresh = old !== undefined && this.now() - old.reservedAt < BLOCK_TTL_MS
    // Used up while fresh: demand outgrew the block, so double it; otherwise one batch's worth is enough.
    const size = Math.max(count, fresh ? Math.min(old.size * 2, MAX_BLOCK) : count)
    const first = await reserve(size)
    // Contiguous with the old block's unused tail (nobody reserved in between, the usual case with one write replica):
    // keep that tail, so the next batch leaves no gap; no other replica can hold an id above it that it got earlier.
    const next = old !== undefined && old.end === first ? old.next : first
    this.blocks.set(key, { next, end: first + size, size, reservedAt: this.now() })
  }
}
