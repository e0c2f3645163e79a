// Redis key layout: one hash per entity ("pb:post:42", "pb:user:7"), one sorted set of post ids for lists, and the
// lock that keeps index rebuilds to one at a time. Every key gets the deployment's REDIS_KEY_PREFIX from ioredis.
import type { EntityType } from '../shared/event.js'

export const entityKey = (type: EntityType, id: number): string => `${entityKeyPrefix(type)}${id}`

/** What every key of one entity type starts with (the near cache asks Redis to track these prefixes). */
export const entityKeyPrefix = (type: EntityType): string => `pb:${type}:`

/** Sorted set of post ids scored by id (ids grow with creation, so score order is newest-first order). */
export const POST_INDEX_KEY = 'pb:posts:index'
/**
 * Member (score 0, below every id) that marks the index complete on one Redis instance, named by its run id. It lives
 * inside the set rather than in a key of its own so that losing the set (eviction, flush) also loses the mark: a set
 * without it is cold, whatever partial content the consumer has added since. It names the instance because an
 * instance can also lose part of the set and keep the mark (a restart from an older snapshot or an unsynced append-only
 * file, a failover to a replica that lagged): another run id, and the mark no longer vouches for the set.
 */
export const postIndexReady = (runId: string): string => `ready:${runId}`
export const POST_INDEX_LOCK_KEY = 'pb:posts:index:rebuild-lock'
