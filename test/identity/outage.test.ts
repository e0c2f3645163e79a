// The validator goes away (the stack's Lambda emulator is stopped): tokens never seen answer 503 (fail closed), tokens
// already verified keep working from the verdict cache until their entry expires, and service resumes with the emulator.
import t from 'tap'
import { build, sleep, stack } from '../helper/index.js'
import { mintToken } from '../../src/identity/token.js'

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('emulator stopped: new tokens 503, cached verdicts keep working until they expire', async (t) => {
  const CACHE_SECONDS = 4
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'lambda', IDENTITY_CACHE_MAX_SECONDS: String(CACHE_SECONDS), IDENTITY_TIMEOUT_MS: '1000' })
  const get = async (token: string): Promise<{ status: number, headers: Record<string, unknown> }> => {
    const res = await app.inject({ url: '/get_server/users/999999', headers: bearer(token) })
    return { status: res.statusCode, headers: res.headers }
  }
  const known = await mintToken(app.config.token, '1', 3600)
  const fresh = await mintToken(app.config.token, '2', 3600)

  t.equal((await get(known)).status, 404, 'verified while the emulator is up (404: the check passed, the user is absent)')
  const cachedAt = Date.now()

  t.teardown(async () => { await stack('up', 'lambda') })
  await stack('down', 'lambda')
  t.ok(Date.now() - cachedAt < (CACHE_SECONDS - 1) * 1000, 'the emulator stopped well within the cache lifetime')

  t.equal((await get(known)).status, 404, 'a cached verdict keeps working')
  const started = Date.now()
  const refused = await get(fresh)
  t.equal(refused.status, 503, 'a new token: no verdict, no entry')
  t.equal(refused.headers['retry-after'], '1')
  t.equal(refused.headers['www-authenticate'], undefined, 'an outage, not a challenge')
  t.ok(Date.now() - started < 1500, 'fails fast (bounded by IDENTITY_TIMEOUT_MS)')
  const forged = `${fresh.slice(0, fresh.lastIndexOf('.'))}.${'A'.repeat(43)}`
  t.equal((await get(forged)).status, 503, 'even a forged token: only the validator can judge a well-formed one')
  t.equal((await get('garbage.token.here')).status, 401, 'what cannot be a token is refused without the validator (closed)')

  await sleep(cachedAt + CACHE_SECONDS * 1000 + 100 - Date.now())
  t.equal((await get(known)).status, 503, 'the cached verdict expired: 503 for it too')

  await stack('up', 'lambda')
  t.equal((await get(fresh)).status, 404, 'service resumes with the emulator: the 503 was not cached')
  t.equal((await get(known)).status, 404)
})
