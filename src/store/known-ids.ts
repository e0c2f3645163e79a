// A bounded in-process memory of ids known to exist, for entities that are never deleted: a hit needs no MongoDB read.
// Only positive answers are kept (an absent id may be created at any moment); concurrent lookups of one id share one
// read; the least recently used id leaves first once the bound is reached.
import { trimOldest } from '../shared/trim-oldest.js'

export class KnownIds {
  /** Insertion order is recency order: a hit moves its key to the end, so the first key is the least recently used. */
  private readonly known = new Set<string>()
  private readonly lookups = new Map<string, Promise<boolean>>()

  constructor (private readonly max: number) {}

  /** Whether the id exists: remembered, or found by `lookup` (whose yes is then remembered; a no never is). */
  async check (namespace: string, id: number, lookup: () => Promise<boolean>): Promise<boolean> {
    const key = `${namespace}/${id}`
    if (this.known.delete(key)) {
      this.known.add(key)
      return true
    }
    let pending = this.lookups.get(key)
    if (pending === undefined) {
      pending = lookup().then((found) => {
        if (found) this.add(key)
        return found
      }).finally(() => this.lookups.delete(key))
      this.lookups.set(key, pending)
    }
    return await pending
  }

  /** Records an id that now exists (this process just created it). */
  remember (namespace: string, id: number): void {
    this.add(`${namespace}/${id}`)
  }

  get size (): number {
    return this.known.size
  }

  private add (key: string): void {
    this.known.delete(key)
    this.known.add(key)
    trimOldest(this.known, this.max)
  }
}
