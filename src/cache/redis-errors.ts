// Tells "Redis is unreachable or busy, try again" apart from "Redis refused this command": the consumer waits out the
// first (never skipping a message) and treats the second as a failure of the message itself.

// Error replies a healthy command can get from a server that is starting, failing over or out of memory, or that
// refuses this client for now: persistence failing (MISCONF), credentials or ACL changed under it (NOAUTH,
// WRONGPASS, NOPERM). Each is an outage an operator fixes, not a fault of the message: the consumer holds the
// partition instead of dead-lettering valid events.
const TRANSIENT_REPLY = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|MISCONF|NOAUTH|WRONGPASS|NOPERM)\b/
// What ioredis throws when the connection is gone (no offline queue, so it throws at once instead of queueing).
const CONNECTION = /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|Command timed out/

export function isRedisUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  // ioredis's ReplyError (from redis-errors) is how the server answers a command it refused.
  if (err.name === 'ReplyError') return TRANSIENT_REPLY.test(err.message)
  return err.name === 'MaxRetriesPerRequestError' || CONNECTION.test(err.message)
}
