// When a test file has finished but its process does not exit, tap only reports "timeout!" after 180 s with the
// handle types (CI saw this once, after relay.test.ts's last test, and it did not reproduce in 6 runs here). This
// remembers where each socket was connected from, and if any is still open 20 s after the last test it prints them
// with those stacks, then ends the process with the tests' own verdict instead of waiting out the timeout.
import net from 'node:net'
import t from 'tap'

const LINGER_MS = 20_000
const ORIGIN = Symbol('connected from')

interface Handle { constructor: { name: string }, remotePort?: number, localPort?: number, [ORIGIN]?: string }

const connect = net.Socket.prototype.connect as (...args: unknown[]) => net.Socket
net.Socket.prototype.connect = function (this: net.Socket & Handle, ...args: unknown[]) {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 60
  this[ORIGIN] = new Error('connected from').stack?.split('\n').slice(2, 40).join('\n')
  Error.stackTraceLimit = limit
  return connect.apply(this, args)
} as typeof net.Socket.prototype.connect

t.teardown(() => {
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles: () => Handle[] })._getActiveHandles()
    const sockets = handles.filter((h) => h.remotePort !== undefined || h[ORIGIN] !== undefined)
    console.error(`# still open ${LINGER_MS / 1000} s after the last test: ${handles.map((h) => h.constructor.name).join(', ')}`)
    for (const s of sockets) console.error(`# socket to port ${s.remotePort ?? '?'} (local ${s.localPort ?? '?'}), ${s[ORIGIN] ?? 'origin unknown'}`)
    process.exit(t.passing() ? 0 : 1)
  }, LINGER_MS).unref()
})
