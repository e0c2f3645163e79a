// The store's capabilities come from what the server says it is: the local stack's FerretDB names itself.
import t from 'tap'
import { MongoClient } from 'mongodb'
import { FERRETDB, detectCapabilities } from '../../src/store/capabilities.js'
import { build, stackEnv } from '../helper/index.js'

t.test('the local store is recognised as FerretDB, and the app takes its workarounds', async (t) => {
  const client = new MongoClient(stackEnv.MONGODB_URL, { serverSelectionTimeoutMS: 3000 })
  t.teardown(async () => { await client.close() })
  t.equal(await detectCapabilities(client.db('admin')), FERRETDB)
  const app = await build(t, { role: 'write' })
  t.equal(app.store.caps, FERRETDB)
  t.equal(app.store.locks.size, 0, 'no document lock held at rest')
})
