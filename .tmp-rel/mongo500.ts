import { buildApp } from '../src/app.js'
import { testConfig, stack, dropNamespace } from '../test/helper.js'
import { MongoNetworkError, MongoServerSelectionError, MongoNotConnectedError, MongoTopologyClosedError } from 'mongodb'
const config = testConfig({ role: 'all' }, { IDENTITY_MODE: 'off' })
const app = await buildApp(config, { logger: false })
app.addHook('onError', async (req, reply, err: any) => {
  const known = err instanceof MongoServerSelectionError || err instanceof MongoNetworkError || err instanceof MongoNotConnectedError || err instanceof MongoTopologyClosedError
  if (!known && (err.statusCode ?? 500) >= 500) console.log('UNMAPPED', req.url, err.constructor?.name, err.code, err.codeName, err.message, err.errorLabelSet ?? err.errorLabels, String(err.stack).split('\n').slice(0,8).join('\n'))
})
await app.ready()
const u = (await app.inject({ method: 'POST', url: '/post_server/users', payload: { username: 'x' } })).json()
const p = (await app.inject({ method: 'POST', url: '/post_server/posts', payload: { user_id: u.user_id, title: 't', content: 'c' } })).json()
let running = true
const seen = new Map<string, number>()
const worker = async (like: boolean) => {
  let i = 0
  while (running) {
    const r = like ? await app.inject({ method: 'POST', url: `/post_server/posts/${p.post_id}/like` }) : await app.inject({ method: 'POST', url: '/post_server/posts', payload: { user_id: u.user_id, title: `t${i++}`, content: 'c' } })
    const k = `${like ? 'like' : 'create'} ${r.statusCode}`
    seen.set(k, (seen.get(k) ?? 0) + 1)
    if (r.statusCode === 503) await new Promise(r => setTimeout(r, 50))
  }
}
const ws = [worker(false), worker(true), worker(false), worker(true)]
await new Promise(r => setTimeout(r, 1500))
await stack('down', 'mongo')
await new Promise(r => setTimeout(r, 3500))
await stack('up', 'mongo')
await new Promise(r => setTimeout(r, 1500))
running = false
await Promise.all(ws)
console.log(seen)
await app.close()
await dropNamespace(config)
