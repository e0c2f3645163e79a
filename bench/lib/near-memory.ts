// What the near cache's default bound costs in memory: a real NearCache (tracking on against the local Redis) filled
// to NEAR_CACHE_ENTRIES' default with post texts of the benchmark's size, measured as heap growth after a full GC.
import { Redis } from 'ioredis'
import pino from 'pino'
import { NearCache } from '../../src/cache/near-cache.js'
import { loadConfig } from '../../src/shared/config.js'
import { until } from './setup.js'

export async function nearCacheBytesPerEntry (sampleJson: string): Promise<{ entries: number, bytes: number }> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  const { entries, maxAgeMs } = loadConfig({}, {}).nearCache
  const redis = new Redis(loadConfig({}, {}).redisUrl)
  const near = new NearCache({ maxEntries: entries, maxAgeMs: Math.max(maxAgeMs, 600_000), log: pino({ level: 'silent' }) })
  try {
    near.start(redis, ['pbbench:near-memory:'])
    await until('near-cache tracking', async () => {
      const probe = near.begin('pbbench:near-memory:probe')
      if (probe !== null) near.end(probe, undefined)
      return probe !== null
    })
    gc()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < entries; i++) {
      const key = `pbbench:near-memory:${i}`
      const ticket = near.begin(key)!
      // A fresh string per entry, as each Redis reply is.
      near.end(ticket, { json: Buffer.from(sampleJson.replace(/"post_id":\d+/, `"post_id":${i}`)).toString(), version: 1 })
    }
    gc()
    return { entries, bytes: process.memoryUsage().heapUsed - before }
  } finally {
    await near.stop()
    redis.disconnect()
  }
}
