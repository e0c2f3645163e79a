// A TCP proxy for faults on the wire, for real: its target can move (cutting every open connection, as a failover
// behind a virtual address does), and it can lose one command, or the command's answer, that carries given bytes (the
// server applied it and the client never hears so: the ambiguous failure of a connection lost mid-write). Everything
// else passes through untouched.
import { once } from 'node:events'
import net, { type AddressInfo, type Socket } from 'node:net'
import type { Tap } from './app.js'

/** A TCP port on 127.0.0.1, or a Unix socket path. */
export type Target = { port: number } | { path: string }

export type Loss = 'answer' | 'command'

export interface TcpProxy {
  port: number
  /** Sends new connections to target and cuts the open ones, which the client then reopens to the new target. */
  switchTo: (target: Target) => void
  /** Loses the next command whose bytes include these, or its answer; resolves once it was lost. */
  lose: (loss: Loss, bytes: Buffer) => Promise<void>
}

/** The bytes a MongoDB command's first BSON element has on the wire: type 2 (string), its name, the collection. */
export function mongoCommandBytes (command: string, collection: string): Buffer {
  const length = Buffer.alloc(4)
  length.writeInt32LE(Buffer.byteLength(collection) + 1)
  return Buffer.concat([Buffer.from([2]), Buffer.from(`${command}\0`), length, Buffer.from(`${collection}\0`)])
}

/** Starts the proxy on an ephemeral port; closed in teardown (register it before anything that connects through it). */
export async function tcpProxy (t: Tap, first: Target): Promise<TcpProxy> {
  let target = first
  let armed: { loss: Loss, bytes: Buffer, lost: () => void } | null = null
  const sockets = new Set<Socket>()
  const server = net.createServer((client) => {
    const upstream = 'path' in target ? net.connect(target.path) : net.connect(target.port, '127.0.0.1')
    sockets.add(client).add(upstream)
    let dropAnswer: (() => void) | null = null
    const cut = (): void => { client.destroy(); upstream.destroy() }
    client.on('data', (chunk: Buffer) => {
      const trap = armed
      if (trap !== null && chunk.includes(trap.bytes)) {
        armed = null
        if (trap.loss === 'command') {
          cut()
          trap.lost()
          return
        }
        dropAnswer = trap.lost
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (dropAnswer !== null) {
        // The server has answered, so it has applied the command: the client only learns that its connection closed.
        cut()
        dropAnswer()
        return
      }
      client.write(chunk)
    })
    for (const s of [client, upstream]) {
      s.on('error', cut)
      s.on('close', () => { cut(); sockets.delete(s) })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    server.close()
    await once(server, 'close')
  })
  return {
    port: (server.address() as AddressInfo).port,
    switchTo: (next) => {
      target = next
      for (const s of sockets) s.destroy()
    },
    lose: async (loss, bytes) => await new Promise<void>((resolve) => { armed = { loss, bytes, lost: resolve } })
  }
}
