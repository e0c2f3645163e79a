// The identity hook in a process whose roles never check identity (no server, no Lambda): no verifier is built, and
// a route wired to the hook by mistake still fails closed. (Identity on reads through the emulator: reads.test.ts.)
import t from 'tap'
import Fastify from 'fastify'
import { testConfig } from '../helper/index.js'
import configPlugin from '../../plugins/config.js'
import errorsPlugin from '../../plugins/errors.js'
import identityPlugin from '../../plugins/identity.js'
import metricsPlugin from '../../plugins/metrics.js'
import { mintToken } from '../../src/identity/token.js'

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('a process whose roles never check identity builds no verifier, and the hook still fails closed there', async (t) => {
  const config = testConfig({ role: 'consumer' }, { IDENTITY_MODE: 'lambda' })
  const app = Fastify({ logger: false })
  await app.register(configPlugin, { config })
  await app.register(errorsPlugin)
  await app.register(metricsPlugin)
  await app.register(identityPlugin)
  // Wired by mistake into a consumer-only process: it must refuse, not pass.
  app.get('/wired-by-mistake', { onRequest: app.identity.authenticate }, async () => ({ data: 'secret' }))
  t.teardown(async () => { await app.close() })
  t.equal(app.identity.checker, null, 'no Lambda client for a consumer')
  const res = await app.inject({ url: '/wired-by-mistake', headers: bearer(await mintToken(config.token, '1', 60)) })
  t.equal(res.statusCode, 500)
  t.notMatch(res.body, /secret/)
})
