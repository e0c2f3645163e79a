// When a test file has finished but its process does not exit, tap only reports "timeout!" after 180 s with the
// handle types. This names what is still open (sockets with their ports) so the leak can be traced to its client.
import t from 'tap'

const LINGER_MS = 20_000

interface Handle { constructor: { name: string }, remotePort?: number, localPort?: number, connecting?: boolean, destroyed?: boolean }

t.teardown(() => {
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles: () => Handle[] })._getActiveHandles()
    const named = handles.map((h) => `${h.constructor.name}(remote ${h.remotePort ?? '-'}, local ${h.localPort ?? '-'}${h.connecting === true ? ', connecting' : ''})`)
    console.error(`# still open ${LINGER_MS / 1000} s after the last test: ${named.join('; ')}`)
  }, LINGER_MS).unref()
})
