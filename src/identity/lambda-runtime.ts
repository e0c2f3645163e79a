// A minimal Lambda custom-runtime bootstrap: the Runtime API loop around our handler. The local emulator runs it;
// on AWS the same file works as a provided.al2023 custom runtime. node:http is used on purpose: the /next long poll
// may wait for minutes, and undici's (fetch's) header timeout would cut it.
import http from 'node:http'
import { handler } from './handler.js'

const api = process.env.AWS_LAMBDA_RUNTIME_API
if (api === undefined) throw new Error('AWS_LAMBDA_RUNTIME_API is not set: run this under Lambda or the emulator')
const [host, port] = api.split(':')
const agent = new http.Agent({ keepAlive: true })

function call (method: string, path: string, body?: string): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    const req = http.request({ host, port: Number(port), method, path: `/2018-06-01/runtime${path}`, agent, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

for (;;) {
  const next = await call('GET', '/invocation/next')
  const id = next.headers['lambda-runtime-aws-request-id']
  if (typeof id !== 'string') throw new Error(`runtime API gave no request id (status ${next.status})`)
  try {
    const result = await handler(JSON.parse(next.body === '' ? '{}' : next.body))
    await call('POST', `/invocation/${id}/response`, JSON.stringify(result))
  } catch (err) {
    const e = err as Error
    await call('POST', `/invocation/${id}/error`, JSON.stringify({ errorType: e.name, errorMessage: e.message }))
  }
}
