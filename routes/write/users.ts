// POST /post_server/users: create a user.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CreateUserBody, User, errors } from '../../src/schemas.js'
import { createUser } from '../../src/store/users.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/users', {
    schema: {
      tags: ['write'],
      summary: 'Create a user',
      body: CreateUserBody,
      response: { 201: User, ...errors(400, 409, 415, 503) }
    }
  }, async (req, reply) => {
    const user = await app.mongoWrite.run((db) => createUser(db, req.body.username))
    return await reply.code(201).send(user)
  })
}
export default routes
