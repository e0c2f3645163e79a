// The read role's model: the read-through caches of users and posts and the newest-first list, built from the clients
// and settings they need. plugins/reads.ts creates one per app and routes/read/* use it.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Db } from 'mongodb'
import type { NearCache } from '../cache/near-cache.js'
import type { Post, User } from '../shared/schemas.js'
import { findPostVersioned, findUserVersioned } from '../store/read.js'
import { PostIndex } from './post-index.js'
import { PostList } from './post-list.js'
import { ReadThrough, type ReadMetrics } from './read-through.js'

export interface ReadModelDeps {
  redis: Redis
  /** The read pool's database. */
  db: Db
  near: NearCache | null
  metrics: ReadMetrics
  log: FastifyBaseLogger
  ttlSeconds: number
  negativeTtlSeconds: number
}

export interface ReadModel {
  users: ReadThrough<User>
  posts: ReadThrough<Post>
  list: PostList
  /** Settles once no MongoDB read, cache fill or index rebuild is running; for shutdown. */
  idle: () => Promise<void>
}

export function createReadModel (deps: ReadModelDeps): ReadModel {
  const { redis, db, near, metrics, log, ttlSeconds, negativeTtlSeconds } = deps
  const common = {
    redis,
    near: near === null ? undefined : { cache: near, keyPrefix: redis.options.keyPrefix ?? '' },
    ttlSeconds,
    negativeTtlSeconds,
    metrics,
    log
  }
  const users = new ReadThrough<User>({ ...common, type: 'user', load: async (id) => await findUserVersioned(db, id) })
  const posts = new ReadThrough<Post>({ ...common, type: 'post', load: async (id) => await findPostVersioned(db, id) })
  const index = new PostIndex(redis, db, log, metrics, near)
  const list = new PostList(index, posts, db, metrics)
  return {
    users,
    posts,
    list,
    idle: async () => { await Promise.all([users.idle(), posts.idle(), index.idle(), list.idle()]) }
  }
}
