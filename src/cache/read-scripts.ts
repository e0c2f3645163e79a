// Lua scripts for list pages, each one command where a pipeline was several (and the index's ready mark, which they
// check). A profile of list pages put
// ioredis and the garbage collector at half of a page's CPU: every command is its own Command object, promise and
// timeout timer, and a pipeline adds its own objects on top. Both scripts touch only keys passed in KEYS, as Redis
// requires of scripts.
import type { Redis, Result } from 'ioredis'

/** The newest ids of the post index below a bound, or nil while the index lacks its ready mark (a cold index). */
const INDEX_PAGE_SCRIPT = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return false end
return redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], 1, 'LIMIT', 0, ARGV[3])
`

/** The d field of every entity hash given, nil where there is none (false keeps the Lua array without holes). */
const ENTITY_TEXTS_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local vd = redis.call('HMGET', key, 'v', 'd')
  out[2 * i - 1] = vd[1]
  out[2 * i] = vd[2]
end
return out
`

/**
 * Marks the index complete, in one step with its checks: only on the instance the rebuild began on (ARGV[1], its run
 * id: a restart or failover during the rebuild may have lost what it added) and only if the set holds at least as many
 * members as the rebuild added (ARGV[2]: an eviction during the rebuild would leave holes). 1 when marked, else 0.
 * Not read-only, unlike the page scripts: it lives here because it is the other half of the page script's check.
 */
const INDEX_MARK_SCRIPT = `
local id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if id ~= ARGV[1] then return 0 end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 0, ARGV[3])
return 1
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    postboardIndexMark: (key: string, runId: string, scanned: number, readyMember: string) => Result<number, Context>
    postboardIndexPage: (key: string, readyMember: string, max: string, count: number) => Result<string[] | null, Context>
    /** Each key's version and text, flattened: v1, d1, v2, d2, ... (null where a key or field is missing). */
    postboardEntityTexts: (numberOfKeys: number, ...keys: string[]) => Result<Array<string | null>, Context>
  }
}

/** Registers the scripts once per client (ioredis sends EVALSHA and falls back to EVAL when Redis lacks the script). */
export function defineReadScripts (redis: Redis): void {
  if (typeof (redis as Partial<Redis>).postboardIndexPage !== 'function') {
    redis.defineCommand('postboardIndexPage', { numberOfKeys: 1, lua: INDEX_PAGE_SCRIPT, readOnly: true })
    // No fixed key count: the caller passes it first, and ioredis prefixes exactly that many keys.
    redis.defineCommand('postboardEntityTexts', { lua: ENTITY_TEXTS_SCRIPT, readOnly: true })
    redis.defineCommand('postboardIndexMark', { numberOfKeys: 1, lua: INDEX_MARK_SCRIPT })
  }
}
