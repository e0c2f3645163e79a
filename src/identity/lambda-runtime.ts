/* c8 ignore start -- A minimal Lambda custom-runtime bootstrap: the Runtime API loop around our handler. It runs only
   inside the emulator's process (the stack's lambda service), outside c8's view; every identity test that goes through
   the emulator exercises it. On AWS the same file works as a provided.al2023 custom runtime. node:http is used on
   purpose: the /next long poll may wait for minutes, and undici's (fetch's) header timeout would cut it. */
import http from 'node:http'
import type { Verdict } from './validator.js'

const api = process.env.AWS_LAMBDA_RUNTIME_API
if (api === undefined) throw new Error('AWS_LAMBDA_RUNTIME_API is not set: run this under Lambda or the emulator')
const [host, port] = api.split(':')
const agent = new http.Agent({ keepAlive: true })

interface Reply { status: number, headers: http.IncomingHttpHeaders, body: string }

function call (method: string, path: string, body?: string, extra: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? extra : { ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
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

// The Runtime API's error document; the type also travels in a header, which is what Lambda logs and reports.
function errorDocument (err: unknown): [string, Record<string, string>] {
  const e = err instanceof Error ? err : new Error(String(err))
  const type = e.name === 'Error' ? 'Runtime.UnhandledError' : e.name
  return [JSON.stringify({ errorType: type, errorMessage: e.message }), { 'lambda-runtime-function-error-type': type }]
}

// Loading the handler is init: a failure there is reported on /init/error, and the process exits as Lambda expects.
let handler: (event: unknown) => Promise<Verdict>
try {
  ({ handler } = await import('./handler.js'))
} catch (err) {
  await call('POST', '/init/error', ...errorDocument(err)).catch(() => {})
  throw err
}

for (;;) {
  const next = await call('GET', '/invocation/next')
  const id = next.headers['lambda-runtime-aws-request-id']
  if (next.status !== 200 || typeof id !== 'string') throw new Error(`runtime API /next answered ${next.status}: ${next.body}`)
  let result: string
  try {
    result = JSON.stringify(await handler(next.body === '' ? {} : JSON.parse(next.body)))
  } catch (err) {
    await call('POST', `/invocation/${id}/error`, ...errorDocument(err))
    continue
  }
  await call('POST', `/invocation/${id}/response`, result)
}
/* c8 ignore stop */
