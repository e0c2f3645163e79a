// GET /get_server/users/{id}, served from Redis with MongoDB behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sendJsonText } from '../../src/cache/entity-json.js'
import { UserNotFound } from '../../src/shared/errors.js'
import { User, ReadIdParams, errors } from '../../src/shared/schemas.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app.reads

  app.get('/users/:id', {
    schema: {
      tags: ['read'],
      summary: 'Get a user',
      params: ReadIdParams,
      response: { 200: User, ...errors(400, 401, 404, 503) }
    }
  }, async (req, reply) => {
    const id = Number(req.params.id)
    // The cached text is the response body as it is (see entity-json.ts): no parse, no serialization on a hit.
    const json = await users.getJson(id)
    if (json === null) throw new UserNotFound(id)
    return sendJsonText(reply, json)
  })
}
export default routes
