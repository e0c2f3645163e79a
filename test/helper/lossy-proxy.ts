// A TCP proxy in front of the stack's MongoDB that can lose one command on the wire, for real: either its answer (the
// server applied it, the client never hears so: the ambiguous failure of a connection lost mid-write) or the command
// itself (never applied, and the client cannot tell the difference). Everything else passes through untouched.
import { once } from 'node:events'
import net, { type AddressInfo, type Socket } from 'node:net'
import type { Tap } from './app.js'

export type Loss = 'answer' | 'command'

export interface LossyProxy {
  /** A mongodb:// URL through the proxy. */
  url: string
  /** Loses the next command that names this command and collection; resolves once it was lost. */
  lose: (loss: Loss, command: string, collection: string) => Promise<void>
}

/** The bytes a command's first BSON element has on the wire: type 2 (string), its name, then the collection name. */
function commandBytes (command: string, collection: string): Buffer {
  const length = Buffer.alloc(4)
  length.writeInt32LE(Buffer.byteLength(collection) + 1)
  return Buffer.concat([Buffer.from([2]), Buffer.from(`${command}\0`), length, Buffer.from(`${collection}\0`)])
}

/** Starts the proxy on an ephemeral port in front of mongoPort; closed in teardown (register it before the app). */
export async function lossyMongoProxy (t: Tap, mongoPort: number): Promise<LossyProxy> {
  let armed: { loss: Loss, bytes: Buffer, lost: () => void } | null = null
  const sockets = new Set<Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(mongoPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    let dropAnswer: (() => void) | null = null
    const cut = (): void => { client.destroy(); upstream.destroy() }
    client.on('data', (chunk: Buffer) => {
      const target = armed
      if (target !== null && chunk.includes(target.bytes)) {
        armed = null
        if (target.loss === 'command') {
          cut()
          target.lost()
          return
        }
        dropAnswer = target.lost
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
  const { port } = server.address() as AddressInfo
  return {
    url: `mongodb://127.0.0.1:${port}`,
    lose: async (loss, command, collection) => await new Promise<void>((resolve) => { armed = { loss, bytes: commandBytes(command, collection), lost: resolve } })
  }
}
