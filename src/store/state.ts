// The store's in-process state, one per app (plugins/store.ts creates it): the server's capabilities, the document
// locks they call for, the create and reaction batchers and the memory of known users. Store functions receive it as
// an argument, so two apps built in one process share none of it.
import type { StoreCapabilities } from './capabilities.js'
import { CreateBatcher } from './create-batcher.js'
import { docLocks, type DocLocks, type ReplicaLease } from './doc-lock.js'
import { KnownIds } from './known-ids.js'
import { ReactionBatcher } from './reaction-batcher.js'

/** Users remembered as existing, least recently used out first: a post's author check then needs no read. */
const KNOWN_USERS = 100_000

export interface StoreState {
  readonly caps: StoreCapabilities
  readonly locks: DocLocks
  readonly creates: CreateBatcher
  readonly reactions: ReactionBatcher
  readonly knownUsers: KnownIds
}

/**
 * `lease` orders a document's updates across replicas where the store's own updates are not atomic; `batchLingerMs`
 * is how long a create or reaction batch that follows another waits for more (WRITE_BATCH_LINGER_MS).
 */
export function createStoreState (caps: StoreCapabilities, lease?: ReplicaLease, batchLingerMs = 0): StoreState {
  const locks = docLocks(caps, lease)
  return {
    caps,
    locks,
    creates: new CreateBatcher(caps, locks, batchLingerMs),
    reactions: new ReactionBatcher(locks, batchLingerMs),
    knownUsers: new KnownIds(KNOWN_USERS)
  }
}
