// POST /post_server/posts and the like/dislike reactions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { entityTag } from '../../src/shared/conditional.js'
import { InvalidBody, PostNotFound } from '../../src/shared/errors.js'
import { idempotent } from '../../src/write/idempotency.js'
import { CreatePostBody, IdempotencyHeaders, MAX_CONTENT_BYTES, Post, PostParams, errors } from '../../src/shared/schemas.js'
import { strictJson } from '../../src/write/strict-json.js'
import { writeSignal } from '../../src/write/write-signal.js'
import { traceOf } from '../../plugins/tracing.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  strictJson(app)

  app.post('/posts', {
    schema: {
      tags: ['write'],
      operationId: 'createPost',
      summary: 'Create a post',
      description: `user_id must name an existing user (else 422); title 1-255 characters; content non-empty, at most ${MAX_CONTENT_BYTES} bytes of UTF-8.`,
      headers: IdempotencyHeaders,
      body: CreatePostBody,
      response: { 201: Post, ...errors(400, 401, 403, 409, 413, 415, 422, 503) }
    }
  }, async (req, reply) => {
    // The schema bounds characters; storage and Kafka care about bytes, and one character can be four.
    const bytes = Buffer.byteLength(req.body.content, 'utf8')
    if (bytes > MAX_CONTENT_BYTES) throw new InvalidBody(`body/content: ${bytes} bytes of UTF-8, at most ${MAX_CONTENT_BYTES} allowed`)
    return await idempotent(app.idempotency, req, reply, 201, async () => {
      const { data, version } = await app.writes.createPost(req.body, traceOf(req), writeSignal(reply, app.config.timeouts.writeQueueMs))
      return { body: data, etag: entityTag('post', data.post_id, version) }
    })
  })

  for (const kind of ['like', 'dislike'] as const) {
    app.post(`/posts/:id/${kind}`, {
      schema: {
        tags: ['write'],
        operationId: `${kind}Post`,
        summary: `Add one ${kind} to a post`,
        description: 'Takes no body (or {}). Answers the post after the change. Send an Idempotency-Key to make retries safe.',
        headers: IdempotencyHeaders,
        params: PostParams,
        response: { 200: Post, ...errors(400, 401, 404, 409, 413, 415, 422, 503) }
      }
    }, async (req, reply) => {
      rejectBody(req.body, kind)
      return await idempotent(app.idempotency, req, reply, 200, async () => {
        const post = await app.writes.react(req.params.id, kind, traceOf(req), writeSignal(reply, app.config.timeouts.writeQueueMs))
        if (post === null) throw new PostNotFound(req.params.id)
        return { body: post.data, etag: entityTag('post', post.data.post_id, post.version) }
      })
    })
  }
}

/** A reaction has nothing to say: no body, or an empty object. Anything else is a client mistake worth naming. */
function rejectBody (body: unknown, kind: string): void {
  if (body === undefined || body === null) return
  if (typeof body === 'object' && !Array.isArray(body)) {
    const [field] = Object.keys(body)
    if (field === undefined) return
    throw new InvalidBody(`body/${field}: unexpected property; a ${kind} takes no body`)
  }
  throw new InvalidBody(`body: a ${kind} takes no body (send none, or {})`)
}
export default routes
