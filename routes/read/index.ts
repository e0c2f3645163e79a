// The read role's routes, mounted under /get_server. Hooks registered here apply to reads only.
import type { FastifyPluginAsync } from 'fastify'
import users from './users.js'
import posts from './posts.js'

const read: FastifyPluginAsync = async (app) => {
  // Before anything else, so no read reaches Redis or MongoDB without a positive verdict (design invariant 4).
  app.addHook('onRequest', app.identity.authenticate)
  await app.register(users)
  await app.register(posts)
}
export default read
