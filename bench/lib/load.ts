// Runs autocannon and reduces its result to the figures the report uses; alternates a subject with its baseline
// round by round so machine noise hits both alike, and reports medians.
import autocannon from 'autocannon'

export interface Request { method?: 'GET' | 'POST', path: string, body?: string, headers?: Record<string, string> }

export interface LoadSpec {
  url: string
  connections?: number
  seconds?: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  path?: string
  /** Requests to cycle through (spreads load over many ids). */
  requests?: Request[]
}

export interface LoadResult { rps: number, p50: number, p99: number, max: number, errors: number, non2xx: number, total: number }

export async function load (spec: LoadSpec): Promise<LoadResult> {
  const result = await autocannon({
    url: spec.url + (spec.path ?? ''),
    connections: spec.connections ?? 50,
    duration: spec.seconds ?? 5,
    method: spec.method ?? 'GET',
    headers: spec.headers,
    body: spec.body,
    requests: spec.requests,
    timeout: 10
  })
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total
  }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export function medianResult (rs: LoadResult[]): LoadResult {
  const pick = (k: keyof LoadResult): number => median(rs.map((r) => r[k]))
  return {
    rps: pick('rps'),
    p50: pick('p50'),
    p99: pick('p99'),
    max: Math.max(...rs.map((r) => r.max)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
    total: rs.reduce((a, r) => a + r.total, 0)
  }
}

/** Alternates baseline and subject for `rounds` rounds (after a short warm-up of each) and returns both medians. */
export async function compare (baseline: LoadSpec, subject: LoadSpec, rounds: number,
  onRound?: (msg: string) => void): Promise<{ baseline: LoadResult, subject: LoadResult }> {
  await load({ ...baseline, seconds: 2 })
  await load({ ...subject, seconds: 2 })
  const b: LoadResult[] = []
  const s: LoadResult[] = []
  for (let i = 0; i < rounds; i++) {
    b.push(await load(baseline))
    s.push(await load(subject))
    onRound?.(`round ${i + 1}/${rounds}: baseline ${Math.round(b.at(-1)!.rps)} req/s, subject ${Math.round(s.at(-1)!.rps)} req/s`)
  }
  return { baseline: medianResult(b), subject: medianResult(s) }
}
