// Group commit: concurrent writes of one kind share one round trip (or one journal entry) instead of paying their own.
// A batch forms only from the writes that queued while the previous batch was in flight (no timer, so no added
// latency when idle), in arrival order. Queues are keyed by the Db handle: the pooled write client has one (so its
// writes batch together), while a per-request connection has its own, closed when its request ends, so it never
// carries another request's write. A write whose signal aborts while it is still queued (its client left, or it waited
// too long) leaves the queue at once and never runs: after that nobody would be told its outcome, and a retry of it
// may already be running.
import type { Db } from 'mongodb'

/** One queued write: how its caller is answered, and what withdraws it before its batch starts. */
export interface Waiter<R> {
  resolve: (result: R) => void
  reject: (err: unknown) => void
  signal?: AbortSignal
  /** The W3C traceparent of the request behind the write, kept with what it writes (a created document, a reaction entry). */
  traceparent?: string
}

/**
 * Commits one batch. It answers each waiter itself, and may requeue some (they join the next batch); if it throws,
 * every waiter of the batch is rejected with that error.
 */
export type Commit<W> = (db: Db, queue: string, batch: W[], requeue: (waiters: W[]) => void) => Promise<void>

interface Queue<W> { waiters: W[], running: boolean }

export class GroupCommit<W extends Waiter<never>> {
  private readonly queues = new WeakMap<Db, Map<string, Queue<W>>>()
  /** How a queued waiter stops listening to its signal once its batch takes it. */
  private readonly detach = new WeakMap<W, () => void>()

  constructor (private readonly maxBatch: number, private readonly commit: Commit<W>) {}

  /** Queues a write on (db, queue); starts a batch at once when none is in flight there. */
  add (db: Db, name: string, waiter: W): void {
    let byName = this.queues.get(db)
    if (byName === undefined) this.queues.set(db, byName = new Map())
    let queue = byName.get(name)
    if (queue === undefined) byName.set(name, queue = { waiters: [], running: false })
    if (!this.enqueue(queue, waiter) || queue.running) return
    queue.running = true
    const mine = queue
    this.drain(db, name, mine).catch(/* c8 ignore next -- drain settles every waiter itself and does not throw */ (err: unknown) => { for (const w of mine.waiters.splice(0)) w.reject(err) })
  }

  /**
   * Queues a waiter, new or requeued by a batch that did not run it (see Commit), unless its signal has already
   * aborted: then it is answered with the reason at once. Whether it was queued.
   */
  private enqueue (queue: Queue<W>, waiter: W): boolean {
    const { signal } = waiter
    if (signal?.aborted === true) {
      waiter.reject(signal.reason)
      return false
    }
    queue.waiters.push(waiter)
    if (signal !== undefined) this.withdrawOnAbort(queue, waiter, signal)
    return true
  }

  private withdrawOnAbort (queue: Queue<W>, waiter: W, signal: AbortSignal): void {
    const onAbort = (): void => {
      const at = queue.waiters.indexOf(waiter)
      /* c8 ignore next -- the listener is removed when a batch takes the waiter; this guards the splice below */
      if (at < 0) return
      queue.waiters.splice(at, 1)
      waiter.reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    this.detach.set(waiter, () => { signal.removeEventListener('abort', onAbort) })
  }

  private async drain (db: Db, name: string, queue: Queue<W>): Promise<void> {
    try {
      while (queue.waiters.length > 0) {
        const batch = queue.waiters.splice(0, this.maxBatch)
        for (const w of batch) this.detach.get(w)?.()
        try {
          await this.commit(db, name, batch, (again) => { for (const w of again) this.enqueue(queue, w) })
        } catch (err) {
          // The whole batch failed the same way (MongoDB unreachable, say): each request answers with that error.
          for (const w of batch) w.reject(err)
        }
      }
    } finally {
      queue.running = false
    }
  }
}
