// What the MongoDB-protocol server behind the store can and cannot do, chosen once at boot from what the server says
// it is (FerretDB names itself in buildInfo). Every FerretDB workaround in the store branches on this object and
// nothing else branches on the store.
import type { Db } from 'mongodb'

export interface StoreCapabilities {
  server: 'mongodb' | 'ferretdb'
  /**
   * Whether one update of one document is atomic against concurrent updates of it. FerretDB 1.x runs every update,
   * $inc and findAndModify included, as "read the document, change it in Go, write the whole document back" with no
   * transaction around the pair (FerretDB issue #3040): 100 concurrent $inc counted 2 to 23. Without it the store
   * serializes the updates of one document (doc-lock.ts: within the app, and across replicas by a lease in Redis).
   */
  atomicUpdates: boolean
  /**
   * Whether a duplicate-key write error names its index (keyPattern). MongoDB does; FerretDB does not, so the store
   * asks whether the _id is taken to tell an id collision from a taken username.
   */
  namesDuplicateKeyIndex: boolean
  /**
   * Update statements per update command. FerretDB 1.x keeps each statement's query (and its pooled PostgreSQL
   * connection) open until the whole command returns, so a command of hundreds of statements exhausts its pool and
   * hangs the server; MongoDB takes a whole batch in one command.
   */
  updateStatementsPerCommand: number
}

export const MONGODB: StoreCapabilities = Object.freeze({
  server: 'mongodb', atomicUpdates: true, namesDuplicateKeyIndex: true, updateStatementsPerCommand: 500
})

export const FERRETDB: StoreCapabilities = Object.freeze({
  server: 'ferretdb', atomicUpdates: false, namesDuplicateKeyIndex: false, updateStatementsPerCommand: 8
})

/** The capabilities for a buildInfo reply: FerretDB adds `ferretdbVersion`; anything else is taken for MongoDB. */
export function capabilitiesOf (buildInfo: Record<string, unknown>): StoreCapabilities {
  return 'ferretdbVersion' in buildInfo ? FERRETDB : MONGODB
}

/** Asks the server what it is. */
export async function detectCapabilities (db: Db): Promise<StoreCapabilities> {
  return capabilitiesOf(await db.command({ buildInfo: 1 }))
}
