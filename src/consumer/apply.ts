// Applies one event to Redis: the entity entry through the version CAS, and new posts into the list index.
import type { Redis } from 'ioredis'
import { casSet, jitteredTtl } from '../cache/cas.js'
import { POST_INDEX_KEY, entityKey } from '../cache/keys.js'
import type { EntityEvent } from '../events/event.js'

export async function applyEvent (redis: Redis, event: EntityEvent, ttlSeconds: number): Promise<boolean> {
  const landed = await casSet(redis, entityKey(event.type, event.id), event.version, JSON.stringify(event.data),
    jitteredTtl(ttlSeconds))
  // ZADD is idempotent, so a replayed create changes nothing; only a post's first version adds it.
  if (event.type === 'post' && event.version === 1) await redis.zadd(POST_INDEX_KEY, event.id, String(event.id))
  return landed
}
