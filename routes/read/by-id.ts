// GET by id, shared by users and posts: the route's schema, and what it answers once the entity is looked up. A
// Min-Version newer than any stored version is a 412; else the version's ETag, with a 304 and no body when
// If-None-Match already names it, or the cached text as the body (no parse, no serialization on a hit).
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncTypebox, TSchema } from '@fastify/type-provider-typebox'
import { sendJsonText, type EntityText } from '../../src/cache/entity-json.js'
import { entityTag, minVersionOf, noneMatch } from '../../src/shared/conditional.js'
import { VersionNotStored } from '../../src/shared/errors.js'
import type { EntityType } from '../../src/shared/event.js'
import { NotModified, ReadConditionalHeaders, ReadIdParams, errors } from '../../src/shared/schemas.js'

export interface ByIdRoute {
  type: EntityType
  path: string
  operationId: string
  summary: string
  /** The 200 body's schema. */
  entity: TSchema
  lookup: (id: number, minVersion: number) => Promise<EntityText | null>
  /** The 404 for an id that names nothing. */
  notFound: (id: number) => Error
}

/** Registers one GET-by-id route on the read plugin `app`. */
export function getById (app: Parameters<FastifyPluginAsyncTypebox>[0], route: ByIdRoute): void {
  const { type, lookup, notFound } = route
  app.get(route.path, {
    schema: {
      tags: ['read'],
      operationId: route.operationId,
      summary: route.summary,
      params: ReadIdParams,
      headers: ReadConditionalHeaders,
      response: { 200: route.entity, 304: NotModified, ...errors(400, 401, 404, 412, 503) }
    }
  }, async (req, reply) => {
    const id = Number(req.params.id)
    const minVersion = minVersionOf(req.headers['min-version'])
    const found = await lookup(id, minVersion)
    if (found === null) throw notFound(id)
    return answerEntity(reply, type, id, found, minVersion, req.headers['if-none-match'])
  })
}

function answerEntity (reply: FastifyReply, type: EntityType, id: number, found: EntityText, minVersion: number,
  ifNoneMatch: string | undefined): FastifyReply {
  if (found.version < minVersion) throw new VersionNotStored(`${type} ${id}`, found.version, minVersion)
  const tag = entityTag(type, id, found.version)
  reply.header('etag', tag)
  if (ifNoneMatch !== undefined && noneMatch(ifNoneMatch, tag)) return reply.code(304).send()
  return sendJsonText(reply, found.json)
}
