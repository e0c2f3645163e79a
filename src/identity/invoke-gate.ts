// Bounds the verifications in flight (the local Lambda emulator panics on a second concurrent invoke; AWS throttles)
// and queues the rest fairly: one queue per client, served round robin, so a client flooding distinct tokens waits
// behind itself while another client's first token is served after at most one turn of each busy client. A full queue
// refuses at once, and a turn not reached in time gives up: both are outages (503, fail closed), never a pass.
import { VerifierUnavailableError } from './verifier.js'

export interface InvokeGateOptions {
  /** Verifications in flight at once. */
  concurrency: number
  /** Waiting verifications one client may hold; more are refused at once. */
  perClient: number
  /** Waiting verifications in all; more are refused at once. */
  total: number
  /** Longest wait for a turn. */
  maxWaitMs: number
}

type Waiter = () => void

export class InvokeGate {
  private running = 0
  private waiting = 0
  // Insertion order is the rotation: the client served goes to the back if it still has waiters.
  private readonly queues = new Map<string, Waiter[]>()
  /** Refused at once (a queue was full) and given up (no turn in time), for the metrics and the tests. */
  readonly refused = { full: 0, late: 0 }

  constructor (private readonly opts: InvokeGateOptions) {}

  get inFlight (): number { return this.running }
  get queued (): number { return this.waiting }

  async run<T> (client: string, task: () => Promise<T>): Promise<T> {
    if (this.running < this.opts.concurrency && this.waiting === 0) this.running++
    else await this.turn(client) // resolves with the slot already taken for this task
    try {
      return await task()
    } finally {
      this.running--
      this.next()
    }
  }

  private turn (client: string): Promise<void> {
    let queue = this.queues.get(client)
    if ((queue?.length ?? 0) >= this.opts.perClient || this.waiting >= this.opts.total) {
      this.refused.full++
      return Promise.reject(new VerifierUnavailableError('identity: too many verifications waiting'))
    }
    if (queue === undefined) {
      queue = []
      this.queues.set(client, queue)
    }
    const mine = queue
    this.waiting++
    return new Promise((resolve, reject) => {
      const waiter: Waiter = () => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        // Still queued (a started waiter has cleared this timer): take it out, and its client when that empties.
        mine.splice(mine.indexOf(waiter), 1)
        if (mine.length === 0 && this.queues.get(client) === mine) this.queues.delete(client)
        this.waiting--
        this.refused.late++
        reject(new VerifierUnavailableError(`identity: no verification slot within ${this.opts.maxWaitMs} ms`))
      }, this.opts.maxWaitMs)
      mine.push(waiter)
    })
  }

  /** Hands free slots to waiters, taking clients in turn. */
  private next (): void {
    while (this.running < this.opts.concurrency && this.queues.size > 0) {
      const [client, queue] = this.queues.entries().next().value!
      this.queues.delete(client)
      // A queue in the map is never empty (the timeout removes emptied ones), so there is a waiter.
      const waiter = queue.shift()!
      if (queue.length > 0) this.queues.set(client, queue)
      this.waiting--
      this.running++
      waiter()
    }
  }
}
