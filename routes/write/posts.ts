// POST /post_server/posts and the like/dislike reactions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PostNotFound } from '../../src/errors.js'
import { CreatePostBody, Post, PostParams, errors } from '../../src/schemas.js'
import { createPost, react } from '../../src/store/posts.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/posts', {
    schema: {
      tags: ['write'],
      summary: 'Create a post',
      body: CreatePostBody,
      response: { 201: Post, ...errors(400, 415, 422, 503) }
    }
  }, async (req, reply) => {
    const post = await app.mongoWrite.run((db) => createPost(db, req.body))
    return await reply.code(201).send(post)
  })

  for (const kind of ['like', 'dislike'] as const) {
    app.post(`/posts/:id/${kind}`, {
      schema: {
        tags: ['write'],
        summary: `Add one ${kind} to a post`,
        params: PostParams,
        response: { 200: Post, ...errors(400, 404, 503) }
      }
    }, async (req) => {
      const post = await app.mongoWrite.run((db) => react(db, req.params.id, kind))
      if (post === null) throw new PostNotFound(req.params.id)
      return post
    })
  }
}
export default routes
