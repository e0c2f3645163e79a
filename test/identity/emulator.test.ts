// The Lambda verifier against the emulator the stack uses (the real aws-lambda-rie), running a small test function
// that fails on demand: the emulator reports function errors, crashes and timeouts in the payload or status, never in
// an X-Amz-Function-Error header, and every one of them must come out as an outage (503 upstream), never as a verdict.
import t from 'tap'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, stack } from '../helper/index.js'
import { createLambdaVerifier } from '../../src/identity/lambda-verifier.js'
import { VerifierUnavailableError } from '../../src/identity/verifier.js'

// The same choice stack/services/lambda.sh makes: AWS_LAMBDA_RIE_BIN, else the real emulator it builds into the cache.
async function emulatorBinary (): Promise<string> {
  if (process.env.AWS_LAMBDA_RIE_BIN !== undefined && process.env.AWS_LAMBDA_RIE_BIN !== '') return process.env.AWS_LAMBDA_RIE_BIN
  await stack('provision', 'lambda')
  const version = /^RIE_VERSION=(\S+)$/m.exec(await readFile(join(ROOT, 'stack', 'services', 'lambda.sh'), 'utf8'))![1]!
  const cache = process.env.POSTBOARD_CACHE_DIR ?? join(process.env.POSTBOARD_STACK_DIR ?? join(ROOT, '.stack'), 'cache')
  return join(cache, `aws-lambda-rie-${version}`, 'aws-lambda-rie')
}

async function freePort (): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

// A Runtime API loop whose behaviour the token picks. Plain JavaScript, so it needs no loader.
const FUNCTION = `
import http from 'node:http'
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':')
const call = (method, path, body, headers = {}) => new Promise((resolve, reject) => {
  const req = http.request({ host, port, method, path: '/2018-06-01/runtime' + path, headers }, (res) => {
    let b = ''; res.on('data', (c) => { b += c }); res.on('end', () => resolve({ headers: res.headers, body: b }))
  })
  req.on('error', reject); req.end(body)
})
const json = { 'content-type': 'application/json' }
for (;;) {
  const next = await call('GET', '/invocation/next')
  const id = next.headers['lambda-runtime-aws-request-id']
  const { token } = JSON.parse(next.body)
  if (token === 'exit') process.exit(3)
  if (token === 'hang') { setInterval(() => {}, 1000); await new Promise(() => {}) }
  if (token === 'throw') {
    await call('POST', '/invocation/' + id + '/error', '{"errorType":"Error","errorMessage":"boom"}', { ...json, 'lambda-runtime-function-error-type': 'Error' })
  } else if (token === 'not-a-verdict') {
    await call('POST', '/invocation/' + id + '/response', '{"hello":"world"}', json)
  } else {
    await call('POST', '/invocation/' + id + '/response', JSON.stringify({ valid: true, subject: token, expires_at: 4102444800, reason: null }), json)
  }
}
`

t.test('function errors, crashes and timeouts are outages, not verdicts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pb-emulator-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'function.mjs'), FUNCTION)
  const [invokePort, runtimePort] = [await freePort(), await freePort()]
  const emulator = spawn(await emulatorBinary(), ['--runtime-interface-emulator-address', `127.0.0.1:${invokePort}`,
    '--runtime-api-address', `127.0.0.1:${runtimePort}`, process.execPath, join(dir, 'function.mjs')],
  { env: { PATH: process.env.PATH ?? '', AWS_LAMBDA_FUNCTION_TIMEOUT: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  emulator.stdout.on('data', (d: Buffer) => { log += d.toString() })
  emulator.stderr.on('data', (d: Buffer) => { log += d.toString() })
  t.teardown(async () => {
    if (emulator.exitCode !== null) return
    emulator.kill('SIGTERM')
    await new Promise((resolve) => emulator.once('exit', resolve))
  })

  const verifier = createLambdaVerifier({ endpoint: `http://127.0.0.1:${invokePort}`, functionName: 'function', region: 'us-east-1', timeoutMs: 3000 })
  t.teardown(async () => { await verifier.close() })
  const outcome = async (token: string): Promise<unknown> => {
    try {
      return await verifier.verify(token)
    } catch (err) {
      return err
    }
  }
  // The port opens before the function is up; the first good verdict proves the whole path.
  let first: unknown
  for (let i = 0; i < 40 && !(typeof first === 'object' && first !== null && 'valid' in first); i++) {
    first = await outcome('7')
    if (!(typeof first === 'object' && first !== null && 'valid' in first)) await new Promise((resolve) => setTimeout(resolve, 250))
  }
  t.match(first, { valid: true, subject: '7' }, 'a verdict through the emulator')

  const cases: Array<[string, RegExp]> = [
    ['throw', /function failed: Error/], // 200 with the error document, no FunctionError header
    ['not-a-verdict', /not a verdict/],
    ['exit', /identity invoke failed: .*\(HTTP 502\)/], // 502 with a Runtime.ExitError document
    ['hang', /not JSON: Task timed out after 1\.00 seconds/] // the emulator's plain-text timeout answer
  ]
  for (const [token, message] of cases) {
    const result = await outcome(token)
    t.ok(result instanceof VerifierUnavailableError, `${token}: an outage`)
    t.match((result as Error).message, message, `${token}: ${(result as Error).message}`)
    t.notMatch((result as Error).message, /"token"/, `${token}: the message never carries the request`)
  }
  // After a crash or a timeout the emulator replaces the runtime; the next invoke is served again.
  let after: unknown
  for (let i = 0; i < 20; i++) {
    after = await outcome('8')
    if (!(after instanceof Error)) break
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  t.match(after, { valid: true, subject: '8' }, 'recovers after the failures')
  t.equal(emulator.exitCode, null, `the emulator itself stayed up${emulator.exitCode === null ? '' : `: ${log}`}`)
})
