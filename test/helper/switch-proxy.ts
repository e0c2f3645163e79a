// A TCP proxy whose target can be switched, cutting every open connection: what a client sees when a virtual address
// moves to another server in a failover. Used to fail Redis over to a second, real server.
import { once } from 'node:events'
import net, { type AddressInfo, type Socket } from 'node:net'
import type { Tap } from './app.js'

/** A TCP port, or a Unix socket path. */
export type Target = { port: number } | { path: string }

export interface SwitchProxy {
  port: number
  /** Sends new connections to target and cuts the open ones, which the client then reopens to the new target. */
  switchTo: (target: Target) => void
}

/** Starts the proxy on an ephemeral port; closed in teardown (register it before anything that connects through it). */
export async function switchProxy (t: Tap, first: Target): Promise<SwitchProxy> {
  let target = first
  const sockets = new Set<Socket>()
  const server = net.createServer((client) => {
    const upstream = 'path' in target ? net.connect(target.path) : net.connect(target.port, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    for (const s of [client, upstream]) {
      s.on('error', () => { client.destroy(); upstream.destroy() })
      s.on('close', () => { client.destroy(); upstream.destroy(); sockets.delete(s) })
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
    }
  }
}
