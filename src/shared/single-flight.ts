// Single flight: concurrent callers asking for the same key share one running call instead of each starting their
// own, so a burst of misses for one hot key costs one MongoDB read per process (design invariant 5).
export class SingleFlight<K, V> {
  private readonly calls = new Map<K, { done: Promise<V>, seq: number }>()
  /** Per key, the call queued behind the running one for callers that need a call begun after they asked. */
  private readonly next = new Map<K, Promise<V>>()
  /** Calls begun so far; a call's seq is the count once it began. */
  private begun = 0

  /** Runs fn for key, or joins the call already running for key (then onJoin is called). Errors are shared too. */
  async do (key: K, fn: () => Promise<V>, onJoin?: () => void): Promise<V> {
    const running = this.calls.get(key)
    if (running !== undefined) {
      onJoin?.()
      return await running.done
    }
    const done = fn().finally(() => { this.calls.delete(key) })
    this.calls.set(key, { done, seq: ++this.begun })
    return await done
  }

  /** Now, for doFresh: a call begun after this mark began after the caller asked. */
  mark (): number {
    return this.begun
  }

  /**
   * Like do, but only a call begun after `since` (a mark) will do: a read that must see a write acknowledged before the
   * caller asked. A call running since earlier is waited out, and the next one is shared by every caller that arrived
   * meanwhile, so a key never has more than one call running and one waiting.
   */
  async doFresh (key: K, since: number, fn: () => Promise<V>, onJoin?: () => void): Promise<V> {
    const running = this.calls.get(key)
    if (running === undefined || running.seq > since) return await this.do(key, fn, onJoin)
    const queued = this.next.get(key)
    if (queued !== undefined) {
      onJoin?.()
      return await queued
    }
    const call = running.done.then(noop, noop).then(async () => {
      this.next.delete(key)
      // Whatever runs now began after the call waited out, so after every caller queued here asked.
      return await this.do(key, fn, onJoin)
    })
    this.next.set(key, call)
    return await call
  }

  /** Settles when every call in flight has (success or failure); for shutdown. */
  async idle (): Promise<void> {
    await Promise.allSettled([...[...this.calls.values()].map((c) => c.done), ...this.next.values()])
  }
}

function noop (): void {}
