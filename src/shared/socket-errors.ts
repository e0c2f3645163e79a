// Node's own socket failures. The MongoDB driver (7.9) lets one through unwrapped when the server closes a connection
// while a command is being written (the EPIPE from its wait for 'drain' is rethrown as is, not as a
// MongoNetworkError), so code that tells outages from bugs must recognise these too.
const SOCKET_ERRORS = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTCONN'])

export function isSocketError (err: unknown): boolean {
  return err instanceof Error && SOCKET_ERRORS.has(String((err as NodeJS.ErrnoException).code))
}
