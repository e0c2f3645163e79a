// The write role's routes, mounted under /post_server. Hooks registered here apply to writes only.
import type { FastifyPluginAsync } from 'fastify'
import users from './users.js'
import posts from './posts.js'

const write: FastifyPluginAsync = async (app) => {
  await app.register(users)
  await app.register(posts)
}
export default write
