// When the consumer commits its offsets. Left to auto-commit, kafkajs commits after every partition's batch: under
// load that is several OffsetCommit requests per produce request (measured: about 600 a second at 5.6k creates a
// second, three per fetch), each an append to __consumer_offsets on the broker. Here a commit goes out once enough
// messages are resolved or enough time has passed (kafkajs's threshold and interval), and otherwise shortly after the
// last batch (a trailing commit), so a group that goes quiet still commits up to its end. A consumer that crashes, or
// loses a partition to a rebalance, replays at most that much; replays are dropped by the version CAS.
import type { FastifyBaseLogger } from 'fastify'
import type { OffsetsByTopicPartition } from 'kafkajs'

/** Commit once this many messages are resolved... */
export const COMMIT_THRESHOLD = 1000
/** ...or this long after the last commit, and at most this long after the last batch (the trailing commit). */
export const COMMIT_INTERVAL_MS = 250

/** What a kafkajs eachBatch call hands over for committing. */
export interface CommitControls {
  commitOffsetsIfNecessary: (offsets?: OffsetsByTopicPartition) => Promise<void>
  uncommittedOffsets: () => OffsetsByTopicPartition
  isRunning: () => boolean
}

export class Commits {
  private timer: NodeJS.Timeout | undefined
  private last: CommitControls | undefined

  constructor (private readonly log: FastifyBaseLogger) {}

  /**
   * When a batch ends, however it ends: a consumer that is stopping commits what it resolved now (before it leaves
   * the group), as does one whose batch threw (before kafkajs restarts it from its commits); otherwise a trailing
   * commit is armed, if none is.
   */
  async afterBatch (controls: CommitControls, threw = false): Promise<void> {
    this.last = controls
    if (threw || !controls.isRunning()) {
      await this.flush()
      return
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      this.flush().catch(/* c8 ignore next -- flush never throws */ () => {})
    }, COMMIT_INTERVAL_MS).unref()
  }

  /** Commits every resolved offset not yet committed. Never throws: a commit that fails only widens a replay. */
  async flush (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const controls = this.last
    if (controls === undefined) return
    const offsets = controls.uncommittedOffsets()
    if (offsets.topics.length === 0) return
    try {
      await controls.commitOffsetsIfNecessary(offsets)
    } catch (err) {
      // A rebalance or a broker away: the next owner of the partition replays from the last commit that landed.
      this.log.warn({ err }, 'consumer: offset commit failed; those events will be applied again')
    }
  }
}
