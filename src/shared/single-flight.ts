// Single flight: concurrent callers asking for the same key share one running call instead of each starting their
// own, so a burst of misses for one hot key costs one MongoDB read per process (design invariant 5).
export class SingleFlight<K, V> {
  private readonly calls = new Map<K, Promise<V>>()

  /** Runs fn for key, or joins the call already running for key (then onJoin is called). Errors are shared too. */
  async do (key: K, fn: () => Promise<V>, onJoin?: () => void): Promise<V> {
    const running = this.calls.get(key)
    if (running !== undefined) {
      onJoin?.()
      return await running
    }
    const call = fn().finally(() => { this.calls.delete(key) })
    this.calls.set(key, call)
    return await call
  }

  /** Settles when every call in flight has (success or failure); for shutdown. */
  async idle (): Promise<void> {
    await Promise.allSettled(this.calls.values())
  }
}
