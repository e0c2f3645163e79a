// The write role's routes, mounted under /post_server. Hooks registered here apply to writes only.
import type { FastifyPluginAsync, preHandlerAsyncHookHandler } from 'fastify'
import { Forbidden } from '../../src/shared/errors.js'
import users from './users.js'
import posts from './posts.js'

const write: FastifyPluginAsync = async (app) => {
  if (app.config.authWrites) {
    app.addHook('onRequest', app.identity.authenticate)
    // No posting as someone else: scoped to POST /posts alone, and run after body validation (preHandler), so
    // user_id is known to be an integer by then.
    const postsUrl = `${app.prefix}/posts`
    app.addHook('onRoute', (route) => {
      if (route.url !== postsUrl || ![route.method].flat().includes('POST')) return
      // Ahead of any preHandler the route declares itself (route.preHandler is one function or a list).
      route.preHandler = [authorIsSubject, ...[route.preHandler ?? []].flat()]
    })
  }
  await app.register(users)
  await app.register(posts)
}

const authorIsSubject: preHandlerAsyncHookHandler = async function (req) {
  if (req.server.identity.mode === 'off') return
  const userId = (req.body as { user_id?: unknown } | undefined)?.user_id
  if (req.identity === null || String(userId) !== req.identity) {
    throw new Forbidden(`user_id ${String(userId)} is not the token's subject: a post can only be made as yourself`)
  }
}

export default write
