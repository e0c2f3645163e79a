// GET /get_server/posts/{id} and the newest-first list.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { decodeCursor, encodeCursor } from '../../src/cursor.js'
import { BadCursor, PostNotFound } from '../../src/errors.js'
import { ListPostsQuery, Post, PostPage, PostParams, errors } from '../../src/schemas.js'
import { findPost, listPosts } from '../../src/store/posts.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/posts/:id', {
    schema: {
      tags: ['read'],
      summary: 'Get a post',
      params: PostParams,
      response: { 200: Post, ...errors(400, 401, 404, 503) }
    }
  }, async (req) => {
    const post = await findPost(app.mongo.db!, req.params.id)
    if (post === null) throw new PostNotFound(req.params.id)
    return post
  })

  app.get('/posts', {
    schema: {
      tags: ['read'],
      summary: 'List posts, newest first',
      querystring: ListPostsQuery,
      response: { 200: PostPage, ...errors(400, 401, 503) }
    }
  }, async (req) => {
    const { limit, cursor } = req.query
    let before: number | undefined
    if (cursor !== undefined) {
      const id = decodeCursor(cursor)
      if (id === null) throw new BadCursor()
      before = id
    }
    // One extra row tells whether a next page exists without a second query.
    const rows = await listPosts(app.mongo.db!, limit + 1, before)
    const items = rows.slice(0, limit)
    const last = items.at(-1)
    return rows.length > limit && last !== undefined ? { items, next_cursor: encodeCursor(last.post_id) } : { items }
  })
}
export default routes
