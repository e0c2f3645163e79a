// POST /post_server/users: create a user.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { idempotent } from '../../src/write/idempotency.js'
import { CreateUserBody, IdempotencyHeaders, User, errors } from '../../src/shared/schemas.js'
import { toUser, type UserDoc } from '../../src/store/collections.js'
import { createUser } from '../../src/store/users.js'
import { strictJson } from '../../src/write/strict-json.js'
import { writeEntity } from '../../src/write/write-entity.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  strictJson(app)

  app.post('/users', {
    schema: {
      tags: ['write'],
      summary: 'Create a user',
      description: 'Usernames are unique (1-50 characters). Send an Idempotency-Key to make retries safe.',
      headers: IdempotencyHeaders,
      body: CreateUserBody,
      response: { 201: User, ...errors(400, 401, 409, 413, 415, 422, 503) }
    }
  }, async (req, reply) => await idempotent(req, reply, 201, async () => {
    const doc = await writeEntity<UserDoc>(app, 'user', 'create_user',
      async (db, committed) => await createUser(db, req.body.username, committed))
    /* c8 ignore next -- a create either returns its document or throws */
    if (doc === null) throw new Error('create returned no document')
    return toUser(doc)
  }))
}
export default routes
