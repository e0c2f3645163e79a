// Redis key layout: one hash per entity ("pb:post:42", "pb:user:7") and one sorted set of post ids for lists.
import type { EntityType } from '../events/event.js'

export const entityKey = (type: EntityType, id: number): string => `pb:${type}:${id}`
export const POST_INDEX_KEY = 'pb:posts:index'
