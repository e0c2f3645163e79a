// POST /post_server/users: create a user.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { entityTag } from '../../src/shared/conditional.js'
import { idempotent } from '../../src/write/idempotency.js'
import { CreateUserBody, IdempotencyHeaders, User, errors } from '../../src/shared/schemas.js'
import { strictJson } from '../../src/write/strict-json.js'
import { writeSignal } from '../../src/write/write-signal.js'
import { traceOf } from '../../plugins/tracing.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  strictJson(app)

  app.post('/users', {
    schema: {
      tags: ['write'],
      operationId: 'createUser',
      summary: 'Create a user',
      description: 'Usernames are unique (1-50 characters). Send an Idempotency-Key to make retries safe.',
      headers: IdempotencyHeaders,
      body: CreateUserBody,
      response: { 201: User, ...errors(400, 401, 409, 413, 415, 422, 503) }
    }
  }, async (req, reply) => await idempotent(app.idempotency, req, reply, 201, async () => {
    const { data, version } = await app.writes.createUser(req.body.username, traceOf(req), writeSignal(reply, app.config.timeouts.writeQueueMs))
    return { body: data, etag: entityTag('user', data.user_id, version) }
  }))
}
export default routes
