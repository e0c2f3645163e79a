// The benchmark's ceilings: a bare Fastify hello-world route, and a bare Fastify route answering with one Redis GET
// of the same bytes a cached post has. The read path is judged against these, measured in the same run.
import Fastify from 'fastify'
import { Redis } from 'ioredis'

const port = Number(process.env.PORT ?? 0)
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6380')
const key = process.env.CEILING_KEY ?? 'bench:ceiling:post'

const app = Fastify({ logger: false })
app.get('/hello', async () => ({ hello: 'world' }))
app.get('/redis/:id', async (_req, reply) => {
  const body = await redis.get(key)
  return await reply.type('application/json; charset=utf-8').send(body)
})
app.addHook('onClose', async () => { redis.disconnect() })
await app.listen({ host: '127.0.0.1', port })
process.stdout.write(`listening ${String((app.server.address() as { port: number }).port)}\n`)
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
