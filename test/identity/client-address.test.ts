// Which client a verification is queued for (the invoke gate's per-client fairness): the caller's own address, or,
// behind a router named by TRUST_PROXY, the address the router put last in X-Forwarded-For. Never what a client
// wrote in that header itself. Watched on the real checker, through the stack's Lambda emulator.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper/index.js'
import { mintToken } from '../../src/identity/token.js'

/** Sends a GET with a token not seen before (so it is verified, not taken from the cache) and returns its client. */
async function clientOf (app: FastifyInstance, headers: Record<string, string>, remoteAddress = '127.0.0.1'): Promise<string | undefined> {
  const checker = app.identity.checker!
  const original = checker.check.bind(checker)
  let client: string | undefined
  checker.check = async (token, from) => { client = from; return await original(token, from) }
  try {
    const token = await mintToken(app.config.token, `client-${Math.random()}`, 600)
    const res = await app.inject({ url: '/get_server/users/1', remoteAddress, headers: { ...headers, authorization: `Bearer ${token}` } })
    if (res.statusCode !== 404) throw new Error(`expected 404 for a missing user, got ${res.statusCode}: ${res.body}`)
  } finally {
    checker.check = original
  }
  return client
}

t.test('without TRUST_PROXY, X-Forwarded-For is ignored: the client is the connection\'s address', async (t) => {
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'lambda' })
  t.equal(await clientOf(app, {}), '127.0.0.1')
  t.equal(await clientOf(app, { 'x-forwarded-for': '198.51.100.7' }), '127.0.0.1', 'a client cannot name itself')
})

t.test('behind a trusted router, the client is the address the router saw', async (t) => {
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'lambda', TRUST_PROXY: '127.0.0.1' })
  t.equal(await clientOf(app, { 'x-forwarded-for': '198.51.100.7' }), '198.51.100.7', 'two clients behind one router…')
  t.equal(await clientOf(app, { 'x-forwarded-for': '198.51.100.8' }), '198.51.100.8', '…are two clients')
  // nginx appends the address it saw to whatever the client sent: only that last entry is the router's word.
  t.equal(await clientOf(app, { 'x-forwarded-for': '203.0.113.1, 198.51.100.7' }), '198.51.100.7', 'what the client wrote before it is ignored')
  t.equal(await clientOf(app, { 'x-forwarded-for': '198.51.100.7' }, '192.0.2.9'), '192.0.2.9', 'from an address that is not the router, the header is ignored')
  t.equal(await clientOf(app, {}), '127.0.0.1', 'no header: the router itself')
})
