// The naive write peer (issue 15's baseline): what a user would write by hand for the write path. Per request, one
// insertOne (ObjectId ids) or one findOneAndUpdate $inc, then one producer.send awaited; no outbox, no batching, no
// lock. It likes the same posts postboard does, copied into a database of its own (PEER_DATABASE).
import Fastify from 'fastify'
import kafkajs from 'kafkajs'
import { MongoClient, ObjectId } from 'mongodb'
// postboard's own fix to kafkajs (its connections otherwise wake every millisecond): the comparison is of the two
// designs, not of a library bug only one side has patched. Measured (scratch, two runs each way): 2,230 creates/s
// without it and 2,280/s with it, the same CPU per create within the runs' noise.
import '../src/bus/kafkajs-request-queue.js'

const port = Number(process.env.PORT ?? 0)
const mongo = new MongoClient(process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27018')
await mongo.connect()
const db = mongo.db(process.env.PEER_DATABASE ?? 'pbbench_peer')
const topic = process.env.PEER_TOPIC ?? 'pbbench.peer.events'
const kafka = new kafkajs.Kafka({ clientId: 'peer', brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), logLevel: kafkajs.logLevel.NOTHING })
// The local broker creates no topic on first use; the peer makes its own, as postboard does.
const admin = kafka.admin()
await admin.connect()
await admin.createTopics({ topics: [{ topic, numPartitions: Number(process.env.KAFKA_TOPIC_PARTITIONS ?? 3) }] })
await admin.disconnect()
const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner })
await producer.connect()

interface PostBody { user_id: number, title: string, content: string }

const app = Fastify({ logger: false })
app.post<{ Body: PostBody }>('/post_server/posts', {
  schema: { body: { type: 'object', required: ['user_id', 'title', 'content'], properties: { user_id: { type: 'integer' }, title: { type: 'string' }, content: { type: 'string' } } } }
}, async (req, reply) => {
  const doc = { _id: new ObjectId(), ...req.body, like_count: 0, dislike_count: 0, created_at: new Date() }
  await db.collection('posts').insertOne(doc)
  await producer.send({ topic, messages: [{ key: `post:${doc._id.toHexString()}`, value: JSON.stringify(doc) }] })
  return await reply.code(201).send({ post_id: doc._id.toHexString(), user_id: doc.user_id, title: doc.title, content: doc.content, like_count: 0, dislike_count: 0 })
})
app.post<{ Params: { id: string } }>('/post_server/posts/:id/like', async (req, reply) => {
  const doc = await db.collection<{ _id: number, like_count: number }>('posts').findOneAndUpdate({ _id: Number(req.params.id) }, { $inc: { like_count: 1 } }, { returnDocument: 'after' })
  if (doc === null) return await reply.code(404).send({ message: 'no such post' })
  await producer.send({ topic, messages: [{ key: `post:${doc._id}`, value: JSON.stringify(doc) }] })
  return doc
})
app.addHook('onClose', async () => { await producer.disconnect(); await mongo.close() })
await app.listen({ host: '127.0.0.1', port })
process.stdout.write(`listening ${String((app.server.address() as { port: number }).port)}\n`)
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
