// GET /get_server/users/{id}, served from Redis with MongoDB behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { UserNotFound } from '../../src/shared/errors.js'
import { User } from '../../src/shared/schemas.js'
import { getById } from './by-id.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app.reads
  getById(app, {
    type: 'user',
    path: '/users/:id',
    operationId: 'getUser',
    summary: 'Get a user',
    entity: User,
    lookup: users.getJson.bind(users),
    notFound: (id) => new UserNotFound(id)
  })
}
export default routes
