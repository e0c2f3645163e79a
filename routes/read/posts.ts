// GET /get_server/posts/{id} and the newest-first list, both served from Redis with MongoDB behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PostIndex } from '../../src/read/post-index.js'
import { PostList } from '../../src/read/post-list.js'
import { sendJsonText } from '../../src/cache/entity-json.js'
import { readThroughFor } from '../../src/read/read-through.js'
import { decodeCursor } from '../../src/shared/cursor.js'
import { BadCursor, PostNotFound } from '../../src/shared/errors.js'
import { ListPostsQuery, Post, PostPage, ReadIdParams, errors } from '../../src/shared/schemas.js'
import { findPostVersioned } from '../../src/store/read.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.mongo.db!
  const posts = readThroughFor<Post>(app, 'post', findPostVersioned)
  const index = new PostIndex(app.redis, db, app.log)
  const list = new PostList(index, posts, db)
  // A background rebuild or a MongoDB page may still be running when the server closes; let them finish first.
  app.addHook('onClose', async () => { await Promise.all([index.idle(), list.idle()]) })

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
