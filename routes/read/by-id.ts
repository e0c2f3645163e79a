// What a GET by id answers once the entity is found: a Min-Version newer than any stored version is a 412; else the
// version's ETag, with a 304 and no body when If-None-Match already names it, or the cached text as the body.
import type { FastifyReply } from 'fastify'
import { sendJsonText, type EntityText } from '../../src/cache/entity-json.js'
import { entityTag, noneMatch } from '../../src/shared/conditional.js'
import { VersionNotStored } from '../../src/shared/errors.js'
import type { EntityType } from '../../src/shared/event.js'

export function answerEntity (reply: FastifyReply, type: EntityType, id: number, found: EntityText, minVersion: number,
  ifNoneMatch: string | undefined): FastifyReply {
  if (found.version < minVersion) throw new VersionNotStored(`${type} ${id}`, found.version, minVersion)
  const tag = entityTag(type, id, found.version)
  reply.header('etag', tag)
  if (ifNoneMatch !== undefined && noneMatch(ifNoneMatch, tag)) return reply.code(304).send()
  return sendJsonText(reply, found.json)
}
