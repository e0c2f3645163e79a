// Group commit for creates: concurrent creates of one collection share one counter update and one insertMany instead
// of paying a round trip each. A batch forms only from the creates that queued while the previous batch was in
// flight (no timer, no added latency when idle); ids are handed out in the order the creates arrived. Each batch writes
// one create-journal entry before its insert (see journal.ts): that is the whole outbox cost of a batch.
import { MongoBulkWriteError, MongoServerError, type Db, type WriteError } from 'mongodb'
import { isDuplicateKey, reserveIds, type EntityCollection } from './collections.js'
import { docKey, withDocLocks } from './doc-lock.js'
import { deleteEntries, openEntry, type JournalEntry } from './journal.js'

/** Called under the new document's lock once it is inserted, with the journal entry its event releases. */
export type CreateCommitted<T> = (doc: T, entry: JournalEntry) => void

/** Creates per batch; the driver still splits a batch whose documents exceed one message. */
const MAX_BATCH = 256
const MAX_ID_ATTEMPTS = 10

interface Waiter {
  build: (id: number) => { _id: number }
  committed: CreateCommitted<{ _id: number }>
  resolve: (doc: { _id: number }) => void
  reject: (err: unknown) => void
  attempts: number
}

interface Batcher { queue: Waiter[], running: boolean }

// Keyed by the Db handle: the pooled write client has one (so its creates batch together), while a per-request
// connection has its own and is closed when its request ends, so it never carries another request's create.
const batchers = new WeakMap<Db, Map<EntityCollection, Batcher>>()

/**
 * Inserts a new entity under the next id. `committed` (which queues its event) runs while the new document's lock is
 * held, so it comes before any later change of the same document; it gets the batch's journal entry, which the
 * publisher deletes once every event of the batch is acknowledged (an entry nobody releases is left to the relay).
 * A duplicate key on _id means a counter race between processes on FerretDB (see reserveIds) and is retried with a
 * fresh id; any other duplicate (the username index) is rethrown, as a MongoServerError with code 11000, for the caller
 * to explain.
 */
export async function insertWithNewId<T extends { _id: number }> (
  db: Db, name: EntityCollection, build: (id: number) => T, committed: CreateCommitted<T>
): Promise<T> {
  let byName = batchers.get(db)
  if (byName === undefined) batchers.set(db, byName = new Map())
  let batcher = byName.get(name)
  if (batcher === undefined) byName.set(name, batcher = { queue: [], running: false })
  const mine = batcher
  return await new Promise<T>((resolve, reject) => {
    mine.queue.push({ build, committed: committed as Waiter['committed'], resolve: resolve as Waiter['resolve'], reject, attempts: 0 })
    if (!mine.running) {
      mine.running = true
      drain(db, name, mine).catch(/* c8 ignore next -- drain settles every waiter itself and does not throw */ reject)
    }
  })
}

async function drain (db: Db, name: EntityCollection, batcher: Batcher): Promise<void> {
  try {
    while (batcher.queue.length > 0) {
      const batch = batcher.queue.splice(0, MAX_BATCH)
      try {
        await insertBatch(db, name, batch, batcher)
      } catch (err) {
        // The whole batch failed the same way (MongoDB unreachable, say): each request answers with that error.
        for (const w of batch) w.reject(err)
      }
    }
  } finally {
    batcher.running = false
  }
}

async function insertBatch (db: Db, name: EntityCollection, batch: Waiter[], batcher: Batcher): Promise<void> {
  const first = await reserveIds(db, name, batch.length)
  const docs = batch.map((w, i) => w.build(first + i))
  const collection = db.collection<{ _id: number }>(name)
  // Before the insert: if the insert fails midway (or its answer is lost), the entry still names whatever landed.
  const entryId = await openEntry(db, name, first, docs.length)
  await withDocLocks(docs.map((d) => docKey(db.databaseName, name, d._id)), async () => {
    const failed = new Map<number, WriteError>()
    try {
      await collection.insertMany(docs, { ordered: false })
    } catch (err) {
      // Unordered: every document without a write error of its own was inserted.
      const writeErrors = err instanceof MongoBulkWriteError ? [err.writeErrors].flat() : []
      if (writeErrors.length === 0) throw err
      for (const we of writeErrors) failed.set(we.index, we)
    }
    // Counted before any event is queued, so an acknowledgement cannot bring it to zero early.
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
        w.committed(doc, entry)
        w.resolve(doc)
        continue
      }
      const { keyPattern, keyValue } = we.err as { keyPattern?: Record<string, unknown>, keyValue?: Record<string, unknown> }
      const err = new MongoServerError({ message: we.errmsg ?? `write error ${we.code}`, errmsg: we.errmsg, code: we.code, keyPattern, keyValue })
      if (!isDuplicateKey(err) || !await onId(db, name, doc._id, keyPattern)) {
        w.reject(err)
        continue
      }
      // The counter went back (see reserveIds): a fresh id in the next batch.
      /* c8 ignore next -- needs ten id collisions in a row */
      if (++w.attempts >= MAX_ID_ATTEMPTS) w.reject(new Error(`no free ${name} id after ${w.attempts} attempts`))
      else retry.push(w)
    }
    // Queued only once every answer of this batch is settled: if a check above threw, drain fails them all instead.
    batcher.queue.push(...retry)
  })
}

/** Whether a duplicate key was on _id. MongoDB names the index in keyPattern; FerretDB does not, so ask. */
async function onId (db: Db, name: EntityCollection, id: number, keyPattern?: Record<string, unknown>): Promise<boolean> {
  /* c8 ignore next -- keyPattern comes from MongoDB 7; FerretDB (the test store) leaves it out */
  if (keyPattern !== undefined) return '_id' in keyPattern
  return await db.collection<{ _id: number }>(name).countDocuments({ _id: id }, { limit: 1 }) > 0
}
