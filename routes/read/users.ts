// GET /get_server/users/{id}, served from Redis with MongoDB behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { readThroughFor } from '../../src/cache/read-through.js'
import { UserNotFound } from '../../src/errors.js'
import { User, ReadIdParams, errors } from '../../src/schemas.js'
import { findUserVersioned } from '../../src/store/read.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const users = readThroughFor<User>(app, 'user', findUserVersioned)

  app.get('/users/:id', {
    schema: {
      tags: ['read'],
      summary: 'Get a user',
      params: ReadIdParams,
      response: { 200: User, ...errors(400, 401, 404, 503) }
    }
  }, async (req) => {
    const id = Number(req.params.id)
    const user = await users.get(id)
    if (user === null) throw new UserNotFound(id)
    return user
  })
}
export default routes
