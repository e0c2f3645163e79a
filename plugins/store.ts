// Makes sure the MongoDB indexes every role relies on exist before the app serves anything.
import fp from 'fastify-plugin'
import { ensureIndexes } from '../src/store/collections.js'

export default fp(async (app) => {
  await ensureIndexes(app.mongo.db!)
}, { name: 'store', dependencies: ['mongo'] })
