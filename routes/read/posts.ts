// GET /get_server/posts/{id} and the newest-first list, both served from Redis with MongoDB behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sendJsonText } from '../../src/cache/entity-json.js'
import { decodeCursor } from '../../src/shared/cursor.js'
import { BadCursor, PostNotFound } from '../../src/shared/errors.js'
import { ListPostsQuery, Post, PostPage, ReadIdParams, errors } from '../../src/shared/schemas.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { posts, list } = app.reads

  app.get('/posts/:id', {
    schema: {
      tags: ['read'],
      summary: 'Get a post',
      params: ReadIdParams,
      response: { 200: Post, ...errors(400, 401, 404, 503) }
    }
  }, async (req, reply) => {
    const id = Number(req.params.id)
    // The cached text is the response body as it is (see entity-json.ts): no parse, no serialization on a hit.
    const json = await posts.getJson(id)
    if (json === null) throw new PostNotFound(id)
    return sendJsonText(reply, json)
  })

  app.get('/posts', {
    schema: {
      tags: ['read'],
      summary: 'List posts, newest first',
      querystring: ListPostsQuery,
      response: { 200: PostPage, ...errors(400, 401, 503) }
    }
  }, async (req, reply) => {
    const { limit, cursor } = req.query
    let before: number | undefined
    if (cursor !== undefined) {
      const id = decodeCursor(cursor)
      if (id === null) throw new BadCursor()
      before = id
    }
    return sendJsonText(reply, await list.pageJson(limit, before))
  })
}
export default routes
