// Capabilities by server, and the document locks each calls for: a queue per document where single-document
// updates are not atomic (FerretDB 1.x), none where they are (MongoDB).
import t from 'tap'
import { FERRETDB, MONGODB, capabilitiesOf } from '../../src/store/capabilities.js'
import { docLocks } from '../../src/store/doc-lock.js'

t.test('buildInfo decides the capabilities', async (t) => {
  t.equal(capabilitiesOf({ version: '7.0.42', ferretdbVersion: 'v1.24.0' }), FERRETDB)
  t.equal(capabilitiesOf({ version: '7.0.14', gitVersion: 'ce59cfc6a3c5e5c067dca0d30697edd68d4f5188' }), MONGODB)
  t.equal(FERRETDB.atomicUpdates, false)
  t.equal(MONGODB.atomicUpdates, true)
})

/** Runs two calls for one key at once; reports whether the second started before the first ended. */
async function overlapped (locks: ReturnType<typeof docLocks>): Promise<boolean> {
  const events: string[] = []
  const slow = async (name: string): Promise<void> => {
    events.push(`${name} start`)
    await new Promise((resolve) => setTimeout(resolve, 20))
    events.push(`${name} end`)
  }
  await Promise.all([locks.withLock('db/posts/1', async () => { await slow('a') }), locks.withLock('db/posts/1', async () => { await slow('b') })])
  return events[1] === 'b start'
}

t.test('FerretDB: one document\'s updates run one at a time, and the lock map empties', async (t) => {
  const locks = docLocks(FERRETDB)
  t.equal(await overlapped(locks), false)
  t.equal(locks.size, 0)
  const order: number[] = []
  await Promise.all([3, 1, 2].map(async (n) => await locks.withLocks([`k${n}`, 'k0'], async () => { order.push(n) })))
  t.same(order, [3, 1, 2], 'several locks, taken in sorted order, still queue in arrival order')
  t.equal(locks.size, 0)
})

t.test('MongoDB: no lock at all', async (t) => {
  const locks = docLocks(MONGODB)
  t.equal(await overlapped(locks), true)
  t.equal(await locks.withLocks(['a', 'b'], async () => 42), 42)
})
