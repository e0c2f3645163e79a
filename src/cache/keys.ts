// Redis key layout: one hash per entity ("pb:post:42", "pb:user:7"), one sorted set of post ids for lists, and the
// lock that keeps index rebuilds to one at a time. Every key gets the deployment's REDIS_KEY_PREFIX from ioredis.
import type { EntityType } from '../shared/event.js'

export const entityKey = (type: EntityType, id: number): string => `${entityKeyPrefix(type)}${id}`

/** What every key of one entity type starts with (the near cache asks Redis to track these prefixes). */
export const entityKeyPrefix = (type: EntityType): string => `pb:${type}:`

/** Sorted set of post ids scored by id (ids grow with creation, so score order is newest-first order). */
export const POST_INDEX_KEY = 'pb:posts:index'
/**
 * Member (score 0, below every id) that marks the index complete. It lives inside the set rather than in a key of its
 * own so that losing the set (eviction, flush, restart without persistence) also loses the mark: a set without it is
 * cold, whatever partial content the consumer has added since.
 */
export const POST_INDEX_READY = '0'
export const POST_INDEX_LOCK_KEY = 'pb:posts:index:rebuild-lock'
