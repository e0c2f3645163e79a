// The signal that withdraws a write from its group-commit queue (src/store/group-commit.ts) before its batch starts:
// its client disconnected (no one would hear the outcome, and a retry of it may already run), or it has waited longer
// than WRITE_QUEUE_TIMEOUT_MS (so a write never starts late enough to outlive its Idempotency-Key lease).
import type { FastifyReply } from 'fastify'
import { ClientGone, WriteQueueTimeout } from '../shared/errors.js'

export function writeSignal (reply: FastifyReply, queueTimeoutMs: number): AbortSignal {
  const controller = new AbortController()
  // Made when the write is about to queue, after an Idempotency-Key claim: the client may have left during the claim.
  if (reply.request.raw.socket?.destroyed === true) {
    controller.abort(new ClientGone())
    return controller.signal
  }
  const timer = setTimeout(() => { controller.abort(new WriteQueueTimeout()) }, queueTimeoutMs).unref()
  // 'close' comes once the response is sent, or when the connection ends first: only the latter withdraws the write.
  reply.raw.once('close', () => {
    clearTimeout(timer)
    if (!reply.raw.writableFinished) controller.abort(new ClientGone())
  })
  return controller.signal
}
