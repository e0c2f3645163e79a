// A flood of 2,000 distinct tokens that are not valid (half cannot be JWTs at all, half are well-formed JWTs signed
// with another secret, so only the validator can refuse them) from one client, against the stack's real Lambda
// emulator, which panics on a second concurrent invoke. Meanwhile another client's first valid token must be
// answered (200), no request may hang, nothing invalid may pass, and the emulator must never be hit twice at once.
import t from 'tap'
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { ROOT, build, dbOf, figure, insertUsers, metricValue, serve, userDoc, waitFor } from '../helper/index.js'
import { mintToken } from '../../src/identity/token.js'

const FLOOD = 2000
const CONNECTIONS = 64

interface Answer { status: number, ms: number }

/** One GET from a chosen loopback source address, bounded by a deadline (status 0 = no answer in time). */
function get (port: number, path: string, token: string, localAddress: string, agent: http.Agent): Promise<Answer> {
  const started = performance.now()
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, localAddress, agent, headers: { authorization: `Bearer ${token}` }, timeout: 10_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }))
    req.end()
  })
}

async function emulatorRestarts (): Promise<number> {
  const log = join(process.env.POSTBOARD_STACK_DIR ?? join(ROOT, '.stack'), 'log', 'lambda.log')
  return (await readFile(log, 'utf8').catch(() => '')).split('emulator exited').length - 1
}

t.test('2,000 distinct invalid tokens from one client: another client\'s new valid token is still answered', async (t) => {
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'lambda', IDENTITY_TIMEOUT_MS: '2000' })
  const { port } = await serve(app)
  const user = userDoc(900_000 + Math.floor(Math.random() * 90_000))
  await insertUsers(dbOf(app), [user])
  const path = `/get_server/users/${user._id}`
  const { issuer, audience } = app.config.token
  const attacker = new TextEncoder().encode('an-attacker-secret-that-is-at-least-32-chars')
  const exp = Math.floor(Date.now() / 1000) + 600
  const forged = await Promise.all(Array.from({ length: FLOOD / 2 }, async (_, i) =>
    await new SignJWT({ n: i }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(String(i)).setIssuer(issuer)
      .setAudience(audience).setExpirationTime(exp).sign(attacker)))
  const garbage = Array.from({ length: FLOOD / 2 }, (_, i) => i % 2 === 0 ? randomBytes(24).toString('base64url') : `${randomBytes(8).toString('base64url')}.${randomBytes(8).toString('base64url')}.${i}`)
  const tokens = forged.flatMap((f, i) => [f, garbage[i]!]) // interleaved: the cheap and the costly arrive together
  t.equal(new Set(tokens).size, FLOOD, 'all distinct')
  const valid = await mintToken(app.config.token, String(user._id), 600)
  const restartsBefore = await emulatorRestarts()
  const invokesBefore = await metricValue(app.metrics.identityInvokeDuration)

  const floodAgent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const otherAgent = new http.Agent({ keepAlive: true })
  t.teardown(() => { floodAgent.destroy(); otherAgent.destroy() })
  const answers: Answer[] = new Array(FLOOD)
  let next = 0
  const started = performance.now()
  const flood = Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (next < FLOOD) {
      const i = next++
      answers[i] = await get(port, path, tokens[i]!, '127.0.0.1', floodAgent)
    }
  }))
  // The valid token arrives once the flood is in full swing, from another address (another client).
  await waitFor('a quarter of the flood sent', async () => next >= FLOOD / 4, 30_000, 5)
  const during = next
  const answer = await get(port, path, valid, '127.0.0.2', otherAgent)
  await flood
  const floodMs = performance.now() - started

  const count = (pick: (a: Answer, i: number) => boolean): number => answers.filter(pick).length
  const forgedAt = (i: number): boolean => i % 2 === 0
  const invokes = await metricValue(app.metrics.identityInvokeDuration) - invokesBefore
  const slowest = Math.max(...answers.map((a) => a.ms))
  figure(t, 'identity-flood', `valid token from another client: ${answer.status} in ${answer.ms.toFixed(0)} ms (sent after ${during} of ${FLOOD}); ` +
    `flood ${FLOOD} in ${floodMs.toFixed(0)} ms over ${CONNECTIONS} connections: 401 ${count((a) => a.status === 401)}, 503 ${count((a) => a.status === 503)}, ` +
    `no answer ${count((a) => a.status === 0)}, slowest ${slowest.toFixed(0)} ms; invokes ${invokes}`)
  t.equal(answer.status, 200, 'the new valid token is answered')
  t.equal(count((a) => a.status === 0), 0, 'no request hangs')
  t.equal(count((a) => a.status !== 401 && a.status !== 503), 0, 'nothing invalid passes: each is refused (401) or shed (503)')
  t.equal(count((a, i) => !forgedAt(i) && a.status !== 401), 0, 'what cannot be a token is refused on the spot, never shed')
  t.ok(count((a, i) => forgedAt(i) && a.status === 401) > 0, 'well-formed forgeries reach the validator and are refused')
  t.ok(invokes <= FLOOD / 2 + 1, `only well-formed tokens cost an invoke (${invokes})`)
  t.equal(await emulatorRestarts() - restartsBefore, 0, 'the emulator never saw two invokes at once')
})
