// The create journal's releaser, in-memory (no server): deletes of journal entries are coalesced, it says what it is
// releasing, and a failed delete is left to the relay. (The journal and the relay against the stack: journal.test.ts.)
import t from 'tap'
import pino from 'pino'
import { ObjectId } from 'mongodb'
import { JournalReleaser } from '../../src/outbox/journal-releaser.js'

const silent = pino({ level: 'silent' })

t.test('JournalReleaser: coalesces deletes, says what it is releasing, leaves a failed delete to the relay', async (t) => {
  const calls: ObjectId[][] = []
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const releaser = new JournalReleaser(async (ids) => { calls.push(ids); await gate }, silent)
  const [a, b, c] = [new ObjectId(), new ObjectId(), new ObjectId()]
  releaser.add([a])
  releaser.add([b, c, b])
  t.same(calls, [[a]], 'the first delete starts at once')
  t.ok(releaser.releasing(a), 'being deleted')
  t.ok(releaser.releasing(c), 'waiting')
  t.notOk(releaser.releasing(new ObjectId()))
  release()
  await releaser.idle()
  t.same(calls[1], [b, c], 'what queued meanwhile went in one delete, each once')
  t.notOk(releaser.releasing(b), 'released')

  const broken = new JournalReleaser(async () => { throw new Error('mongo down') }, silent)
  broken.add([a])
  await broken.idle()
  t.notOk(broken.releasing(a), 'left to the relay, not retried in a loop')
})
