// Freshness, end to end: a like is acknowledged with its new count, then GET is polled until that count is visible
// (event → Kafka → consumer → Redis → read). And the audit afterwards: every touched key in Redis equals MongoDB.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import { loadConfig } from '../../src/shared/config.js'
import { entityKey } from '../../src/cache/keys.js'
import { findPostVersioned } from '../../src/store/read.js'
import type { ProbeArgs, ProbeResult } from './freshness-probe.js'

export interface Percentiles { p50: number, p99: number, max: number }

function percentiles (xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number): number => s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  return { p50: Math.round(at(0.5) * 10) / 10, p99: Math.round(at(0.99) * 10) / 10, max: Math.round((s.at(-1) ?? NaN) * 10) / 10 }
}

/**
 * Likes a random post every 50 ms for `ms`, and times each until GET shows the acknowledged count. `firstPoll` counts
 * the samples whose very first GET already showed it: their lag is that one GET's own latency, not the pipeline's.
 * The loop runs in a child process of its own (bench/lib/freshness-probe.ts says why), after `warmups` samples that
 * are not recorded.
 */
export async function freshnessProbe (url: string, postIds: number[], headers: Record<string, string>, ms: number, warmups = 5): Promise<{ samples: number, unseen: number, firstPoll: number, percentiles: Percentiles }> {
  const args: ProbeArgs = { url, postIds, headers, ms, warmups }
  const child = fork(fileURLToPath(new URL('./freshness-probe.ts', import.meta.url)), [JSON.stringify(args)], { execArgv: ['--import', 'tsx'] })
  const result = await new Promise<ProbeResult>((resolve, reject) => {
    child.once('message', (m) => { resolve(m as ProbeResult) })
    child.once('exit', (code) => { reject(new Error(`the freshness probe exited ${String(code)} without a result`)) })
  })
  return { samples: result.lags.length, unseen: result.unseen, firstPoll: result.firstPoll, percentiles: percentiles(result.lags) }
}

/** A histogram's bucket counts from a /metrics text, by upper bound. */
export async function histogram (url: string, name: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const out = new Map<number, number>()
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))) {
    out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]))
  }
  return out
}

/** The smallest bucket bound holding at least `q` of what was observed between two snapshots (an upper bound on it). */
export function quantileBound (before: Map<number, number>, after: Map<number, number>, q: number): { bound: number, count: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b)
  const count = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0)
  const bound = bounds.find((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * count) ?? Infinity
  return { bound, count }
}

/** Compares each post's cached entry with MongoDB once the consumer has caught up; returns how many differ. */
export async function staleAudit (env: Record<string, string>, postIds: number[]): Promise<{ checked: number, stale: number }> {
  const config = loadConfig({}, env)
  const redis = new Redis(config.redisUrl, { keyPrefix: config.redisKeyPrefix })
  const mongo = new MongoClient(config.mongoUrl)
  const db = mongo.db(config.mongoDatabase)
  let stale = 0
  const deadline = Date.now() + 30_000
  for (const id of postIds) {
    for (;;) {
      const [cached, stored] = await Promise.all([redis.hmget(entityKey('post', id), 'v', 'd'), findPostVersioned(db, id)])
      // The same version and the same body: an entry that is merely absent (expired) is not stale, a different one is.
      const [v, d] = cached
      const same = stored !== null && (v === null || (Number(v) === stored.version && d === JSON.stringify(stored.data)))
      if (same) break
      if (Date.now() > deadline) { stale++; break } // convergence time is over: this key is stale
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  redis.disconnect()
  await mongo.close()
  return { checked: postIds.length, stale }
}

/** Waits until the write role has nothing pending and the consumer no lag, so a measurement starts from a drained pipe. */
export async function drained (writeUrl: string, consumerUrl: string, ms = 180_000): Promise<boolean> {
  const deadline = Date.now() + ms
  const sum = (text: string, name: string): number => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))]
    .reduce((a, m) => a + Number(m[1]), 0)
  while (Date.now() < deadline) {
    const [w, c] = await Promise.all([fetch(`${writeUrl}/metrics`).then(async (r) => await r.text()), fetch(`${consumerUrl}/metrics`).then(async (r) => await r.text())])
    if (sum(w, 'pb_outbox_pending') === 0 && sum(c, 'pb_consumer_lag_messages') === 0) return true
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  return false
}
