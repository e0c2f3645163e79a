// Group commit for creates (see group-commit.ts): concurrent creates of one collection share one insertMany instead of
// paying a round trip each, with ids from a block of the counter (see id-blocks.ts) in the order the creates arrived. Each batch
// writes one create-journal entry before its insert (see journal.ts): that is the whole outbox cost of a batch.
import { MongoBulkWriteError, MongoServerError, type Db, type WriteError } from 'mongodb'
import type { StoreCapabilities } from './capabilities.js'
import { counters, isDuplicateKey, type EntityCollection, type PendingCreate } from './collections.js'
import { docKey, type DocLocks } from './doc-lock.js'
import { GroupCommit, type Waiter as Queued } from './group-commit.js'
import { IdBlocks } from './id-blocks.js'
import { deleteEntries, openEntry, type JournalEntry } from './journal.js'
import { mayHaveLanded, outcomeUnknown } from './outcome.js'

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
  private readonly batches = new GroupCommit<Waiter>(MAX_BATCH, async (db, name, batch, requeue) =>
    await this.insertBatch(db, name as EntityCollection, batch, requeue))

  private readonly ids = new IdBlocks()

  constructor (private readonly caps: StoreCapabilities, private readonly locks: DocLocks) {}

  /**
   * Inserts a new entity under the next id, and answers it with its batch's journal entry, which the publisher
   * deletes once every event of the batch is acknowledged (an entry nobody releases is left to the relay).
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

  private async insertBatch (db: Db, name: EntityCollection, batch: Waiter[], requeue: (waiters: Waiter[]) => void): Promise<void> {
    const counter = docKey(db.databaseName, 'counters', name)
    const first = await this.ids.take(counter, batch.length, async (count) => await this.reserveIds(db, name, count))
    const docs = batch.map((w, i) => w.build(first + i))
    // Before the insert: if the insert fails midway (or its answer is lost), the entry still names whatever landed.
    const entryId = await openEntry(db, name, first, docs.length, batch.map((w) => w.traceparent ?? ''))
    const failed = new Map<number, WriteError>()
    try {
      await db.collection<{ _id: number }>(name).insertMany(docs, { ordered: false })
    } catch (err) {
      // Unordered: every document without a write error of its own was inserted.
      const writeErrors = err instanceof MongoBulkWriteError ? [err.writeErrors].flat() : []
      if (writeErrors.length === 0 && !mayHaveLanded(err)) throw err
      if (writeErrors.length === 0) {
        // No answer at all: any of the documents may have landed (the entry, left for the relay, publishes those that
        // did). Each request learns that its outcome is unknown, with its document as sent, so a retry under the same
        // Idempotency-Key lands it once (outcome.ts) rather than create it a second time.
        for (const [i, w] of batch.entries()) w.reject(outcomeUnknown(err, { collection: name, doc: docs[i] as PendingCreate['doc'] }))
        return
      }
      for (const we of writeErrors) failed.set(we.index, we)
    }
    // Counted before any request is answered (and so before any event is queued), so an acknowledgement cannot
    // bring it to zero early.
    const entry: JournalEntry = { id: entryId, unacked: docs.length - failed.size }
    // Nothing landed (every name taken, say): nothing to publish, so the entry goes now rather than wait for the relay.
    // Best effort: an entry left behind only costs the relay a look when it is overdue and one when it is abandoned (see
    // Relay), and must not fail the requests below, which each have their own answer.
    if (entry.unacked === 0) await deleteEntries(db, [entryId]).catch(() => 0)
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
