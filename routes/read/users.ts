// GET /get_server/users/{id}, served from Redis with MongoDB behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { minVersionOf } from '../../src/shared/conditional.js'
import { UserNotFound } from '../../src/shared/errors.js'
import { NotModified, ReadConditionalHeaders, ReadIdParams, User, errors } from '../../src/shared/schemas.js'
import { answerEntity } from './by-id.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app.reads

  app.get('/users/:id', {
    schema: {
      tags: ['read'],
      operationId: 'getUser',
      summary: 'Get a user',
      params: ReadIdParams,
      headers: ReadConditionalHeaders,
      response: { 200: User, 304: NotModified, ...errors(400, 401, 404, 412, 503) }
    }
  }, async (req, reply) => {
    const id = Number(req.params.id)
    const minVersion = minVersionOf(req.headers['min-version'])
    // The cached text is the response body as it is (see entity-json.ts): no parse, no serialization on a hit.
    const found = await users.getJson(id, minVersion)
    if (found === null) throw new UserNotFound(id)
    return answerEntity(reply, 'user', id, found, minVersion, req.headers['if-none-match'])
  })
}
export default routes
