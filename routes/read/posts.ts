// GET /get_server/posts/{id} and the newest-first list, both served from Redis with MongoDB behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sendJsonText } from '../../src/cache/entity-json.js'
import { decodeCursor } from '../../src/shared/cursor.js'
import { BadCursor, PostNotFound } from '../../src/shared/errors.js'
import { ListPostsQuery, Post, PostPage, errors } from '../../src/shared/schemas.js'
import { getById } from './by-id.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { posts, list } = app.reads

  getById(app, {
    type: 'post',
    path: '/posts/:id',
    operationId: 'getPost',
    summary: 'Get a post',
    entity: Post,
    lookup: posts.getJson.bind(posts),
    notFound: (id) => new PostNotFound(id)
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
