// A stand-in OTLP/HTTP collector for the tracing row: accepts every export (reads the body, answers 200 with an
// empty export response) so a traced server pays what it would with a real collector nearby, and counts the exports.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OtlpSink { url: string, exports: () => number, stop: () => Promise<void> }

export async function otlpSink (port = Number(process.env.BENCH_OTLP_PORT ?? 0)): Promise<OtlpSink> {
  let count = 0
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      count++
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const { port: bound } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${bound}`,
    exports: () => count,
    stop: async () => await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
}
