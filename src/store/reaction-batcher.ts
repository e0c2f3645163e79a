// Group commit for reactions (see group-commit.ts): the likes and dislikes that queue while a batch is in flight become
// one journal entry naming their posts (see journal.ts) and one update per post, however many of the batch's requests
// reacted to it. Before, each reaction cost its own update carrying a pending mark plus a second update to clear the
// mark once published; now a batch costs one insert and a share of one delete on top of its updates. The version still
// counts reactions, so each request is answered with the post exactly as its own reaction left it, as if applied alone.
// Across replicas (a store without atomic updates), a batch takes the leases of all its posts in one round trip and
// changes those it got; a post another replica is changing waits for the next batch rather than holding this one up.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Db } from 'mongodb'
import { DocumentBusy } from '../shared/errors.js'
import { posts, type PostDoc } from './collections.js'
import { docKey, LEASE_WAIT_MS, type DocLocks } from './doc-lock.js'
import { GroupCommit, type Waiter as Queued } from './group-commit.js'
import { deleteEntries, openChangeEntry, type JournalEntry } from './journal.js'
import { mayHaveLanded, outcomeUnknown } from './outcome.js'

export type Reaction = 'like' | 'dislike'

/**
 * One reaction's outcome: the post as this reaction left it (its answer), the post after its whole batch (what is
 * published: one event carries the batch's reactions), and the journal entry that event releases once Kafka has it.
 */
export interface Changed<T> { doc: T, latest: T, entry: JournalEntry }

/** Reactions per batch: one insert plus at most this many updates in flight at once. */
const MAX_BATCH = 256

interface Waiter extends Queued<Changed<PostDoc> | null> {
  id: number
  kind: Reaction
  /** When the reaction arrived: it waits at most LEASE_WAIT_MS for a post other replicas keep changing. */
  since: number
}

/** The pause before asking again when other replicas held every post of a batch. */
const RETRY_MS = 2

const FIELD = { like: 'like_count', dislike: 'dislike_count' } as const satisfies Record<Reaction, keyof PostDoc>

export class ReactionBatcher {
  private readonly batches: GroupCommit<Waiter>

  /** `lingerMs`: how long a batch that follows another waits for more reactions (group-commit.ts). */
  constructor (private readonly locks: DocLocks, lingerMs = 0) {
    this.batches = new GroupCommit<Waiter>(MAX_BATCH, async (db, _name, batch, requeue) => { await this.commit(db, batch, requeue) }, lingerMs)
  }

  /**
   * Adds one like or dislike; answers the post as it left it, or null when the post does not exist. A signal that
   * aborts before its batch starts withdraws it (group-commit.ts).
   */
  async react (db: Db, id: number, kind: Reaction, signal?: AbortSignal, traceparent?: string): Promise<Changed<PostDoc> | null> {
    return await new Promise((resolve, reject) => { this.batches.add(db, 'posts', { id, kind, since: Date.now(), resolve, reject, signal, traceparent }) })
  }

  private async commit (db: Db, batch: Waiter[], requeue: (waiters: Waiter[]) => void): Promise<void> {
    const byPost = new Map<number, Waiter[]>()
    for (const w of batch) {
      const mine = byPost.get(w.id)
      if (mine === undefined) byPost.set(w.id, [w])
      else mine.push(w)
    }
    const keyOf = (id: number): string => docKey(db.databaseName, 'posts', id)
    const changed = await this.locks.withAvailable([...byPost.keys()].map(keyOf), async (held) => {
      const mine = new Map([...byPost].filter(([id]) => held.has(keyOf(id))))
      this.deferRest(byPost, mine, requeue)
      if (mine.size > 0) await this.change(db, mine)
      return mine.size
    })
    // Every post of the batch is being changed by another replica: give it a moment before asking again.
    if (changed === 0) await sleep(RETRY_MS)
  }

  /**
   * Posts another replica holds wait for this queue's next batch, each reaction at most LEASE_WAIT_MS in all, then
   * answers 503 (as a lease waited out does, lease.ts).
   */
  private deferRest (byPost: Map<number, Waiter[]>, mine: Map<number, Waiter[]>, requeue: (waiters: Waiter[]) => void): void {
    const later: Waiter[] = []
    const now = Date.now()
    for (const [id, waiters] of byPost) {
      if (mine.has(id)) continue
      for (const w of waiters) {
        if (now - w.since < LEASE_WAIT_MS) later.push(w)
        else w.reject(new DocumentBusy())
      }
    }
    if (later.length > 0) requeue(later)
  }

  /** One journal entry, then one update per post, each post's reactions answered in arrival order. */
  private async change (db: Db, byPost: Map<number, Waiter[]>): Promise<void> {
    // Before the updates: if one fails midway (or its answer is lost), the entry still names what may have changed.
    // Each post's last reaction names the write its event links to, wherever the relay publishes it.
    const entryId = await openChangeEntry(db, 'posts', [...byPost.keys()], [...byPost.values()].map((ws) => ws.at(-1)?.traceparent ?? ''))
    const outcomes = await Promise.allSettled([...byPost].map(async ([id, waiters]) => await update(db, id, waiters)))
    let unacked = 0
    for (const [i, [, waiters]] of [...byPost].entries()) {
      const o = outcomes[i]!
      if (o.status === 'fulfilled' && o.value !== null) unacked += waiters.length
    }
    // Each answered request publishes its post's event with the entry once, so the entry counts requests, not posts.
    // A failed update may still have landed (a lost answer): then only the relay may delete the entry.
    const failed = outcomes.some((o) => o.status === 'rejected')
    const entry: JournalEntry = failed ? { id: entryId, unacked, keep: true } : { id: entryId, unacked }
    // Nothing changed (every post unknown): the entry goes now. Best effort, like a create batch's (create-batcher.ts).
    if (unacked === 0 && !failed) await deleteEntries(db, [entryId]).catch(() => 0)
    for (const [i, [, waiters]] of [...byPost].entries()) {
      const o = outcomes[i]!
      // The update was sent and its answer lost: it may have counted. Said so (outcome.ts), so an Idempotency-Key is held.
      if (o.status === 'rejected') for (const w of waiters) w.reject(mayHaveLanded(o.reason) ? outcomeUnknown(o.reason) : o.reason)
      else if (o.value === null) for (const w of waiters) w.resolve(null)
      else answer(waiters, o.value, entry)
    }
  }
}

/**
 * One update for every reaction of the batch to this post: the counters and the version (one per reaction) change
 * together. The caller holds the post's lock where the store's updates are not atomic (doc-lock.ts).
 */
async function update (db: Db, id: number, waiters: Waiter[]): Promise<PostDoc | null> {
  const inc: Partial<Record<'like_count' | 'dislike_count' | 'version', number>> = { version: waiters.length }
  for (const w of waiters) inc[FIELD[w.kind]] = (inc[FIELD[w.kind]] ?? 0) + 1
  return await posts(db).findOneAndUpdate({ _id: id }, { $inc: inc }, { returnDocument: 'after' })
}

/** Answers a post's reactions in arrival order, each with the post as it stood right after that reaction. */
function answer (waiters: Waiter[], latest: PostDoc, entry: JournalEntry): void {
  const states: PostDoc[] = []
  let doc = latest
  for (let i = waiters.length - 1; i >= 0; i--) {
    states[i] = doc
    const field = FIELD[waiters[i]!.kind]
    doc = { ...doc, [field]: doc[field] - 1, version: doc.version - 1 }
  }
  for (const [i, w] of waiters.entries()) w.resolve({ doc: states[i]!, latest, entry })
}
