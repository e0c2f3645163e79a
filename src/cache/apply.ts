// Applies one event to Redis: the entity entry through the version CAS, and every post into the list index. Shared by
// the consumer and the write role's write-through mode.
import type { Redis } from 'ioredis'
import { defineCas, jitteredTtl } from './cas.js'
import { entityJson } from './entity-json.js'
import { POST_INDEX_KEY, entityKey } from './keys.js'
import type { EntityEvent } from '../shared/event.js'

/**
 * True when the event's version landed, false when the cache already held that version or a newer one (a replay,
 * a duplicate or an out-of-order event: nothing changes). Throws what Redis throws.
 */
export async function applyEvent (redis: Redis, event: EntityEvent, ttlSeconds: number): Promise<boolean> {
  const [result] = await applyEvents(redis, [event], ttlSeconds)
  if (result instanceof Error) throw result
  /* c8 ignore next -- one event in, one result out */
  return result ?? false
}

/**
 * Applies several events in one round trip, in order: per event, whether it landed (as applyEvent) or the error Redis
 * answered for it. Throws when the round trip itself failed (Redis unreachable).
 */
export async function applyEvents (redis: Redis, events: EntityEvent[], ttlSeconds: number): Promise<Array<boolean | Error>> {
  defineCas(redis)
  const pipeline = redis.pipeline()
  /** Per event, the index of its first reply and how many it has. */
  const spans: Array<[number, number]> = []
  let at = 0
  for (const event of events) {
    pipeline.postboardCas(entityKey(event.type, event.id), event.version, entityJson(event.type, event.data), jitteredTtl(ttlSeconds))
    // The index needs no version check: membership never changes once a post exists, and ZADD of a present member
    // with the same score is a no-op, so replays change nothing. Any version adds it, not just the first, so a post
    // whose create event went missing (dead-lettered, index rebuilt meanwhile) is listed again with its next change.
    // It follows the CAS in the same round trip, so a listed id already has its entry, and it stays outside the CAS
    // script so that entity keys and the index need not share one Redis Cluster slot.
    if (event.type === 'post') pipeline.zadd(POST_INDEX_KEY, event.id, String(event.id))
    const n = event.type === 'post' ? 2 : 1
    spans.push([at, n])
    at += n
  }
  const replies = await pipeline.exec()
  /* c8 ignore next -- exec() yields null only for an aborted WATCH transaction; a plain pipeline has none */
  if (replies === null) throw new Error('redis pipeline was discarded')
  return spans.map(([first, n]) => {
    for (let i = first; i < first + n; i++) {
      const err = replies[i]?.[0]
      if (err !== null && err !== undefined) return err
    }
    return replies[first]?.[1] === 1
  })
}
