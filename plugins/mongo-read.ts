// The read role's MongoDB pool (@fastify/mongodb, registered by name): `app.mongo.read.db`. Only a process that
// serves reads opens it (see the role manifest).
import fp from 'fastify-plugin'
import fastifyMongo from '@fastify/mongodb'
import { mongoOptions } from '../src/store/connections.js'

export default fp(async (app) => {
  const { mongoUrl, mongoDatabase, mongoReadPoolSize } = app.config
  await app.register(fastifyMongo, { name: 'read', url: mongoUrl, database: mongoDatabase, forceClose: true, maxPoolSize: mongoReadPoolSize, ...mongoOptions(app.config.timeouts) })
}, { name: 'mongo-read', dependencies: ['config'] })
