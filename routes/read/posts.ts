// GET /get_server/posts/{id} and the newest-first list, both served from Redis with MongoDB behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sendJsonText } from '../../src/cache/entity-json.js'
import { minVersionOf } from '../../src/shared/conditional.js'
import { decodeCursor } from '../../src/shared/cursor.js'
import { BadCursor, PostNotFound } from '../../src/shared/errors.js'
import { ListPostsQuery, NotModified, Post, PostPage, ReadConditionalHeaders, ReadIdParams, errors } from '../../src/shared/schemas.js'
import { answerEntity } from './by-id.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { posts, list } = app.reads

  app.get('/posts/:id', {
    schema: {
      tags: ['read'],
      operationId: 'getPost',
      summary: 'Get a post',
      params: ReadIdParams,
      headers: ReadConditionalHeaders,
      response: { 200: Post, 304: NotModified, ...errors(400, 401, 404, 412, 503) }
    }
  }, async (req, reply) => {
    const id = Number(req.params.id)
    const minVersion = minVersionOf(req.headers['min-version'])
    // The cached text is the response body as it is (see entity-json.ts): no parse, no serialization on a hit.
    const found = await posts.getJson(id, minVersion)
    if (found === null) throw new PostNotFound(id)
    return answerEntity(reply, 'post', id, found, minVersion, req.headers['if-none-match'])
  })

  app.get('/posts', {
    schema: {
      tags: ['read'],
      operationId: 'listPosts',
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
    return sendJsonText(reply, await list.pageJson(Number(limit), before))
  })
}
export default routes
