// GET /get_server/users/{id}.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { UserNotFound } from '../../src/errors.js'
import { User, UserParams, errors } from '../../src/schemas.js'
import { findUser } from '../../src/store/users.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/users/:id', {
    schema: {
      tags: ['read'],
      summary: 'Get a user',
      params: UserParams,
      response: { 200: User, ...errors(400, 401, 404, 503) }
    }
  }, async (req) => {
    const user = await findUser(app.mongo.db!, req.params.id)
    if (user === null) throw new UserNotFound(req.params.id)
    return user
  })
}
export default routes
