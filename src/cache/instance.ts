// Which Redis instance a client is talking to: its run id, new on every start of a server (and different on a replica
// promoted in a failover). Read once per connection and forgotten when the connection closes, since a reconnect may
// reach another instance, or the same one restarted.
import type { Redis } from 'ioredis'

const RUN_ID = /^run_id:([0-9a-f]+)\r?$/m

/** Parses the run id out of INFO server's text. */
export function parseRunId (info: string): string {
  const id = RUN_ID.exec(info)?.[1]
  /* c8 ignore next -- every Redis since 2.4 reports run_id */
  if (id === undefined) throw new Error('redis INFO server reported no run_id')
  return id
}

export class RedisInstance {
  private runId: Promise<string> | null = null

  constructor (private readonly redis: Redis) {
    redis.on('close', () => { this.runId = null })
  }

  /** The run id of the instance this client is connected to (one INFO per connection). Throws when Redis fails. */
  async id (): Promise<string> {
    this.runId ??= this.redis.info('server').then(parseRunId)
    const pending = this.runId
    try {
      return await pending
    } catch (err) {
      if (this.runId === pending) this.runId = null
      throw err
    }
  }
}
