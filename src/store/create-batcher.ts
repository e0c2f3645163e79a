// Group commit for creates (see group-commit.ts): concurrent creates of one collection share one insertMany instead of
// paying a round trip each, with ids from a block of the counter (see id-blocks.ts) in the order the creates arrived.
// Each block writes one create-journal entry before any of its ids is handed out (see journal.ts), so a batch's whole
// store cost is its insert. A document created under a trace carries the write's `traceparent`, for the relay's link.
import { MongoBulkWriteError, MongoServerError, type Db, type WriteError } from 'mongodb'
import type { StoreCapabilities } from './capabilities.js'
import { counters, isDuplicateKey, type EntityCollection, type PendingCreate } from './collections.js'
import { docKey, type DocLocks } from './doc-lock.js'
import { GroupCommit, type Waiter as Queued } from './group-commit.js'
import { IdBlocks, type BlockSource } from './id-blocks.js'
import { deleteEntries, openEntry, settle, shortenEntry, type JournalEntry } from './journal.js'
import { mayHaveLanded, outcomeUnknown } from './outcome.js'

/** A block's journal entry, and how many ids it names (cut when the block closes with some unused). */
type BlockEntry = JournalEntry & { readonly count: number }

/** A new document and the journal entry its event releases once Kafka has it. */
export interface Created<T> { doc: T, entry: JournalEntry }

/** Creates per batch; the driver still splits a batch whose documents exceed one message. */
const MAX_BATCH = 256
const MAX_ID_ATTEMPTS = 10

interface Waiter extends Queued<Created<{ _id: number }>> {
  build: (id: number) => { _id: number }
  attempts: number
}

export class CreateBatcher {
  private readonly batches: GroupCommit<Waiter>
  private readonly ids = new IdBlocks()

  /** `lingerMs`: how long a batch that follows another waits for more creates (group-commit.ts). */
  constructor (private readonly caps: StoreCapabilities, private readonly locks: DocLocks, lingerMs = 0) {
    this.batches = new GroupCommit<Waiter>(MAX_BATCH, async (db, name, batch, requeue) =>
      await this.insertBatch(db, name as EntityCollection, batch, requeue), lingerMs)
  }

  /**
   * Inserts a new entity under the next id, and answers it with its id block's journal entry, which the publisher
   * deletes once the block is closed and every event of it acknowledged (an entry nobody releases is left to the relay).
   * A duplicate key on _id means a counter race between replicas on a store without atomic updates (see reserveIds)
   * and is retried with a fresh id; any other duplicate (the username index) is rethrown, as a MongoServerError with
   * code 11000, for the caller to explain. A signal that aborts before the batch starts withdraws it (group-commit.ts).
   */
  async insert<T extends { _id: number }> (db: Db, name: EntityCollection, build: (id: number) => T, signal?: AbortSignal, traceparent?: string): Promise<Created<T>> {
    return await new Promise<Created<T>>((resolve, reject) => {
      this.batches.add(db, name, { build, resolve: resolve as Waiter['resolve'], reject, attempts: 0, signal, traceparent })
    })
  }

  /**
   * Closes the open id blocks (shutdown, once no request is left to take ids): their journal entries are then released
   * by their last acknowledgement, rather than left for another replica's relay to publish again.
   */
  closeBlocks (): void {
    this.ids.closeAll()
  }

  /**
   * Reserves `count` consecutive ids with one $inc upsert on the collection's counter and returns the first, so ids
   * only grow and are never handed out twice, and a batch costs one counter update instead of one per create.
   */
  async reserveIds (db: Db, name: EntityCollection, count: number): Promise<number> {
    // Without atomic updates the lock (and its lease across replicas) keeps the counter exact; should two increments
    // still overlap (Redis unreachable, a stalled lease holder), a repeated id is caught by the unique _id in
    // insertBatch and answered with the next one.
    return await this.locks.withLock(docKey(db.databaseName, 'counters', name), async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const doc = await counters(db).findOneAndUpdate({ _id: name }, { $inc: { seq: count } }, { upsert: true, returnDocument: 'after' })
          /* c8 ignore next -- an upsert with returnDocument 'after' always returns the document */
          if (doc === null) throw new Error(`counter ${name} did not return a value`)
          return doc.seq - count + 1
        } catch (err) {
          // Two first-ever upserts racing both try to insert the counter; the loser just goes again.
          /* c8 ignore next -- needs two processes creating the very first entity at once */
          if (!isDuplicateKey(err) || attempt >= 3) throw err
        }
      }
    })
  }

  /** Blocks of a collection's ids, each journaled (its entry holds itself open until the block closes). */
  private source (db: Db, name: EntityCollection): BlockSource<BlockEntry> {
    return {
      reserve: async (count) => await this.reserveIds(db, name, count),
      open: async (first, count) => ({ id: await openEntry(db, name, first, count), unacked: 1, count }),
      close: (entry, used) => {
        // The relay reads an unreleased entry's ids: ones never handed out are cut off rather than waited for. Best
        // effort (a failure leaves the relay to wait them out), and not needed when the entry goes now.
        if (entry.unacked > 1 && used < entry.count) shortenEntry(db, entry.id, used).catch(() => {})
        this.letGo(db, entry)
      }
    }
  }

  /**
   * Lets one hold of an entry go. At zero it is released by the publisher of its events; with none published (nothing
   * of the block landed), nothing else would release it, so it is deleted here (best effort: else the relay's work).
   */
  private letGo (db: Db, entry: JournalEntry): void {
    settle(entry)
    if (entry.unacked === 0 && entry.release === undefined && entry.keep !== true) deleteEntries(db, [entry.id]).catch(() => 0)
  }

  private async insertBatch (db: Db, name: EntityCollection, batch: Waiter[], requeue: (waiters: Waiter[]) => void): Promise<void> {
    const counter = docKey(db.databaseName, 'counters', name)
    const { first, ticket: entry } = await this.ids.take(counter, batch.length, this.source(db, name))
    // Held while this batch inserts, so its block closing meanwhile cannot release the entry before its documents count.
    entry.unacked++
    const docs = batch.map((w, i) => withTrace(w.build(first + i), w.traceparent))
    const failed = new Map<number, WriteError>()
    try {
      await db.collection<{ _id: number }>(name).insertMany(docs, { ordered: false })
    } catch (err) {
      // Unordered: every document without a write error of its own was inserted.
      const writeErrors = err instanceof MongoBulkWriteError ? [err.writeErrors].flat() : []
      if (writeErrors.length === 0 && !mayHaveLanded(err)) {
        this.letGo(db, entry)
        throw err
      }
      if (writeErrors.length === 0) {
        // No answer at all: any of the documents may have landed. The entry is kept for the relay, which publishes
        // those that did. Each request learns that its outcome is unknown, with its document as sent, so a retry under
        // the same Idempotency-Key lands it once (outcome.ts) rather than create it a second time.
        entry.keep = true
        for (const [i, w] of batch.entries()) w.reject(outcomeUnknown(err, { collection: name, doc: docs[i] as PendingCreate['doc'] }))
        return
      }
      for (const we of writeErrors) failed.set(we.index, we)
    }
    // Counted before any request is answered (and so before any event is queued), so an acknowledgement cannot
    // bring it to zero early; then the batch's own hold goes.
    entry.unacked += docs.length - failed.size
    this.letGo(db, entry)
    const retry: Waiter[] = []
    for (const [i, doc] of docs.entries()) {
      const w = batch[i]!
      const we = failed.get(i)
      if (we === undefined) {
        w.resolve({ doc, entry })
        continue
      }
      const { keyPattern, keyValue } = we.err as { keyPattern?: Record<string, unknown>, keyValue?: Record<string, unknown> }
      const err = new MongoServerError({ message: we.errmsg ?? `write error ${we.code}`, errmsg: we.errmsg, code: we.code, keyPattern, keyValue })
      if (!isDuplicateKey(err) || !await this.onId(db, name, doc._id, keyPattern)) {
        w.reject(err)
        continue
      }
      // The counter went back (see reserveIds): a fresh id in the next batch, from a fresh block.
      this.ids.forget(counter)
      /* c8 ignore next -- needs ten id collisions in a row */
      if (++w.attempts >= MAX_ID_ATTEMPTS) w.reject(new Error(`no free ${name} id after ${w.attempts} attempts`))
      else retry.push(w)
    }
    // Queued only once every answer of this batch is settled: if a check above threw, drain fails them all instead.
    requeue(retry)
  }

  /** Whether a duplicate key was on _id: named by the error where the store names indexes, else asked of the store. */
  private async onId (db: Db, name: EntityCollection, id: number, keyPattern?: Record<string, unknown>): Promise<boolean> {
    /* c8 ignore next -- keyPattern comes from MongoDB 7; FerretDB (the test store) leaves it out */
    if (this.caps.namesDuplicateKeyIndex && keyPattern !== undefined) return '_id' in keyPattern
    return await db.collection<{ _id: number }>(name).countDocuments({ _id: id }, { limit: 1 }) > 0
  }
}

/** The document with the trace of the write that created it, when there is one. */
function withTrace<T extends { _id: number }> (doc: T, traceparent: string | undefined): T {
  return traceparent === undefined || traceparent === '' ? doc : { ...doc, traceparent }
}
