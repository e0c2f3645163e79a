// The version compare-and-set every entity cache write goes through (consumer apply, write-through, read-through
// fill). Entries are hashes { v: version, d: JSON of the full entity, or "" for a known-absent id }; the script stores
// an entry only when its version is newer than the cached one, in one atomic step, so a fill that read version 3 can
// never overwrite version 4 written by the consumer (design invariant 1).
import type { Redis, Result } from 'ioredis'

// One key per call on purpose: the post list index is not written here (see apply.ts), so each entity key can
// live in any Redis Cluster slot. A known-absent entry has version 0, so any real version (>= 1) replaces it at once.
const CAS_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], 'v')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`

/** The version of a known-absent entry: older than any real version, so a create always wins over it. */
export const ABSENT_VERSION = 0

declare module 'ioredis' {
  interface RedisCommander<Context> {
    postboardCas: (key: string, version: number, data: string, ttlSeconds: number) => Result<number, Context>
  }
}

/** Registers the script once per client (EVALSHA with EVAL fallback is handled by ioredis), pipelines included. */
export function defineCas (redis: Redis): void {
  if (typeof (redis as Partial<Redis>).postboardCas !== 'function') {
    redis.defineCommand('postboardCas', { numberOfKeys: 1, lua: CAS_SCRIPT })
  }
}

/** Stores data at key if version is newer than the cached version; true when it landed. */
export async function casSet (redis: Redis, key: string, version: number, data: string, ttlSeconds: number): Promise<boolean> {
  defineCas(redis)
  return (await redis.postboardCas(key, version, data, ttlSeconds)) === 1
}

/** TTL with up to 10% jitter so entries filled together do not all expire together. */
export function jitteredTtl (ttlSeconds: number): number {
  return Math.max(1, Math.round(ttlSeconds * (0.9 + Math.random() * 0.1)))
}
