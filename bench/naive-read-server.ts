// The naive read peer (issue 16's baseline): the 20-line cache-aside handler a user would write by hand. GET from
// Redis, JSON.parse, reply; on a miss read MongoDB and SET the JSON. No identity check, no versions, no metrics.
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'

const port = Number(process.env.PORT ?? 0)
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6380')
const mongo = new MongoClient(process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27018')
await mongo.connect()
const posts = mongo.db(process.env.MONGODB_DATABASE ?? 'pbbench_main').collection<{ _id: number }>('posts')

const app = Fastify({ logger: false })
app.get<{ Params: { id: string } }>('/get_server/posts/:id', async (req, reply) => {
  const key = `naive:post:${req.params.id}`
  const cached = await redis.get(key)
  if (cached !== null) return JSON.parse(cached) as unknown
  const doc = await posts.findOne({ _id: Number(req.params.id) })
  if (doc === null) return await reply.code(404).send({ message: 'not found' })
  const { _id, ...rest } = doc
  const post = { post_id: _id, ...rest }
  await redis.set(key, JSON.stringify(post), 'EX', 3600)
  return post
})
app.addHook('onClose', async () => { redis.disconnect(); await mongo.close() })
await app.listen({ host: '127.0.0.1', port })
process.stdout.write(`listening ${String((app.server.address() as { port: number }).port)}\n`)
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
