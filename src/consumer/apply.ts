// Applies one event to Redis: the entity entry through the version CAS, and every post into the list index. Shared by
// the consumer and the write role's write-through mode.
import type { Redis } from 'ioredis'
import { defineCas, jitteredTtl } from '../cache/cas.js'
import { entityJson } from '../cache/entity-json.js'
import { POST_INDEX_KEY, entityKey } from '../cache/keys.js'
import type { EntityEvent } from '../events/event.js'

/**
 * True when the event's version landed, false when the cache already held that version or a newer one (a replay,
 * a duplicate or an out-of-order event: nothing changes). Throws what Redis throws.
 */
export async function applyEvent (redis: Redis, event: EntityEvent, ttlSeconds: number): Promise<boolean> {
  defineCas(redis)
  const pipeline = redis.pipeline()
    .postboardCas(entityKey(event.type, event.id), event.version, entityJson(event.type, event.data), jitteredTtl(ttlSeconds))
  // The index needs no version check: membership never changes once a post exists, and ZADD of a present member with
  // the same score is a no-op, so replays change nothing. Any version adds it, not just the first, so a post whose
  // create event went missing (dead-lettered, index rebuilt meanwhile) is listed again with its next change. It sits
  // after the CAS in the same round trip, so a listed id already has its entry, and it stays outside the CAS script
  // so that entity keys and the index need not share one Redis Cluster slot.
  if (event.type === 'post') pipeline.zadd(POST_INDEX_KEY, event.id, String(event.id))
  const replies = await pipeline.exec()
  /* c8 ignore next -- exec() yields null only for an aborted WATCH transaction; a plain pipeline has none */
  if (replies === null) throw new Error('redis pipeline was discarded')
  for (const [err] of replies) if (err !== null) throw err
  return replies[0]?.[1] === 1
}
