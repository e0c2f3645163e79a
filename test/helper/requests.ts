// Short in-process write requests (app.inject) for tests that need users and posts to exist.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

export async function post (app: FastifyInstance, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/post_server${url}`, ...(payload !== undefined && { payload: payload as object }), headers })
}

export async function createUser (app: FastifyInstance, username: string): Promise<{ user_id: number }> {
  const res = await post(app, '/users', { username })
  if (res.statusCode !== 201) throw new Error(`create user: ${res.statusCode} ${res.body}`)
  return res.json()
}

export async function createPost (app: FastifyInstance, userId: number, title = 'title'): Promise<{ post_id: number, like_count: number }> {
  const res = await post(app, '/posts', { user_id: userId, title, content: `content of ${title}` })
  if (res.statusCode !== 201) throw new Error(`create post: ${res.statusCode} ${res.body}`)
  return res.json()
}
