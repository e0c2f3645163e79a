// What is refused without the validator: each such token is refused by the validator too (so refusing early never
// changes a verdict), and anything only the validator can judge goes through.
import t from 'tap'
import { SignJWT } from 'jose'
import { shapeRejection } from '../../src/identity/token-shape.js'
import { createValidator } from '../../src/identity/validator.js'

const SECRET = 'a-test-secret-that-is-at-least-32-characters'
const settings = { secret: SECRET, issuer: 'postboard', audience: 'postboard-api' }
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')

t.test('refused early only what the validator refuses too', async (t) => {
  const validate = createValidator(settings)
  const now = Math.floor(Date.now() / 1000)
  const sign = async (claims: Record<string, unknown>): Promise<string> =>
    await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
  const good = await sign({ sub: '1', iss: 'postboard', aud: 'postboard-api', exp: now + 600 })
  const [h, p, s] = good.split('.') as [string, string, string]
  const early: Array<[string, string, string]> = [
    ['one part', 'garbage', 'malformed token'],
    ['two parts', `${h}.${p}`, 'malformed token'],
    ['four parts', `${good}.x`, 'malformed token'],
    ['header not base64url JSON', `abc.${p}.${s}`, 'malformed token'],
    ['empty header', `.${p}.${s}`, 'malformed token'],
    ['header an array', `${b64([1])}.${p}.${s}`, 'malformed token'],
    ['payload not JSON', `${h}.bm90IGpzb24.${s}`, 'malformed token'],
    ['no alg', `${b64({ typ: 'JWT' })}.${p}.${s}`, 'malformed token'],
    ['alg none', `${b64({ alg: 'none' })}.${p}.`, 'algorithm not allowed'],
    ['no signature', `${h}.${p}.`, 'algorithm not allowed'],
    ['no exp', await sign({ sub: '1', iss: 'postboard', aud: 'postboard-api' }), 'malformed token'],
    ['exp a string', `${h}.${b64({ sub: '1', exp: String(now + 600) })}.${s}`, 'malformed token'],
    ['no sub', await sign({ iss: 'postboard', aud: 'postboard-api', exp: now + 600 }), 'malformed token'],
    ['empty sub', await sign({ sub: '', iss: 'postboard', aud: 'postboard-api', exp: now + 600 }), 'malformed token'],
    ['expired', await sign({ sub: '1', iss: 'postboard', aud: 'postboard-api', exp: now - 1 }), 'token expired'],
    ['too long', `${h}.${'A'.repeat(9000)}.${s}`, 'token too long']
  ]
  for (const [name, token, reason] of early) {
    t.equal(shapeRejection(token, now), reason, `${name}: refused early`)
    t.equal((await validate(token)).valid, false, `${name}: the validator refuses it too`)
  }
  const late: Array<[string, string]> = [
    ['valid', good],
    ['forged signature', `${h}.${p}.${'A'.repeat(43)}`],
    ['wrong audience', await sign({ sub: '1', iss: 'postboard', aud: 'other', exp: now + 600 })],
    ['RS256 header', `${b64({ alg: 'RS256' })}.${p}.${s}`]
  ]
  for (const [name, token] of late) t.equal(shapeRejection(token, now), null, `${name}: left to the validator`)
})
