// Deletes create-journal entries whose events are all on Kafka, in the background and coalesced (see
// BackgroundFlush): one delete takes every entry released meanwhile, so a busy write role pays a share of one
// delete per batch of creates.
import type { FastifyBaseLogger } from 'fastify'
import type { ObjectId } from 'mongodb'
import { BackgroundFlush } from './background-flush.js'

export class JournalReleaser extends BackgroundFlush<ObjectId> {
  constructor (release: (ids: ObjectId[]) => Promise<void>, log: FastifyBaseLogger) {
    super({ flush: release, log, what: 'released journal entries', key: (id) => id.toHexString() })
  }

  /** Whether this entry's events are all on Kafka and only its delete is pending (the relay need not resend them). */
  releasing (id: ObjectId): boolean {
    return this.holds(id.toHexString())
  }
}
