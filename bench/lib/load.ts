// Runs autocannon and reduces its result to the figures the report uses; alternates a subject with its baseline
// round by round so machine noise hits both alike, and reports medians.
import { readFileSync } from 'node:fs'
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
  /** A fixed pace for all connections together, in requests per second (autocannon's overallRate); as fast as possible when unset. */
  rate?: number
  /** The server's process ids (one per replica): their CPU time per request is reported too (Linux /proc). */
  pid?: number | number[]
}

export interface LoadResult {
  rps: number
  p50: number
  p99: number
  max: number
  errors: number
  non2xx: number
  total: number
  /**
   * The server process's CPU time (user + system) per request, in microseconds. Throughput on a shared 2-core
   * machine swings with whatever else runs; the CPU a request costs the server swings far less.
   */
  cpuUs?: number
  /**
   * The whole machine's busy CPU time per request, in microseconds: for writes most of the work is the store's and
   * the broker's (FerretDB, PostgreSQL, Kafka), which a server process's own time leaves out. Includes the load
   * generator, alike on both sides.
   */
  machineUs?: number
}

/** A process's CPU time so far in clock ticks (utime + stime), or undefined where /proc cannot tell. */
function cpuTicks (pid: number | number[] | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    // Fields after the command name (which may hold spaces, hence the split at ") "): utime and stime are 14 and 15.
    return [pid].flat().reduce((sum, p) => {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')
      return sum + Number(fields[11]) + Number(fields[12])
    }, 0)
  } catch {
    return undefined
  }
}

/** The machine's busy time so far in clock ticks: every CPU's time but idle and iowait (the first line of /proc/stat). */
function machineTicks (): number | undefined {
  try {
    // cpu  user nice system idle iowait irq softirq steal ...
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    return user! + nice! + system! + irq! + softirq! + (steal ?? 0)
  } catch {
    return undefined
  }
}

/** Linux reports CPU time in USER_HZ ticks, 100 per second on every architecture Node runs on. */
const US_PER_TICK = 10_000

export async function load (spec: LoadSpec): Promise<LoadResult> {
  const before = cpuTicks(spec.pid)
  const machineBefore = machineTicks()
  const result = await autocannon({
    url: spec.url + (spec.path ?? ''),
    connections: spec.connections ?? 50,
    duration: spec.seconds ?? 5,
    method: spec.method ?? 'GET',
    headers: spec.headers,
    body: spec.body,
    requests: spec.requests,
    ...(spec.rate !== undefined && { overallRate: spec.rate }),
    timeout: 10
  })
  const after = cpuTicks(spec.pid)
  const machineAfter = machineTicks()
  const total = result.requests.total
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    total,
    ...(before !== undefined && after !== undefined && total > 0 && { cpuUs: (after - before) * US_PER_TICK / total }),
    ...(machineBefore !== undefined && machineAfter !== undefined && total > 0 && { machineUs: (machineAfter - machineBefore) * US_PER_TICK / total })
  }
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export function medianResult (rs: LoadResult[]): LoadResult {
  const pick = (k: Exclude<keyof LoadResult, 'cpuUs' | 'machineUs'>): number => median(rs.map((r) => r[k]))
  return {
    rps: pick('rps'),
    p50: pick('p50'),
    p99: pick('p99'),
    max: Math.max(...rs.map((r) => r.max)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
    total: rs.reduce((a, r) => a + r.total, 0),
    ...(rs.every((r) => r.cpuUs !== undefined) && { cpuUs: median(rs.map((r) => r.cpuUs!)) }),
    ...(rs.every((r) => r.machineUs !== undefined) && { machineUs: median(rs.map((r) => r.machineUs!)) })
  }
}

export interface Comparison {
  baseline: LoadResult
  subject: LoadResult
  /** Subject over baseline req/s, round by round: each pair ran back to back, so slow drifts cancel within it. */
  ratios: number[]
}

/**
 * Alternates baseline and subject for `rounds` rounds (after a short warm-up of each) and returns both medians and
 * each round's ratio. Every other round runs the subject first, so neither side always follows the other.
 */
export async function compare (baseline: LoadSpec, subject: LoadSpec, rounds: number,
  onRound?: (msg: string) => void): Promise<Comparison> {
  await load({ ...baseline, seconds: 2 })
  await load({ ...subject, seconds: 2 })
  const b: LoadResult[] = []
  const s: LoadResult[] = []
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      b.push(await load(baseline))
      s.push(await load(subject))
    } else {
      s.push(await load(subject))
      b.push(await load(baseline))
    }
    const cpu = (r: LoadResult): string => r.cpuUs === undefined ? '' : ` (${r.cpuUs.toFixed(1)} us CPU/req)`
    onRound?.(`round ${i + 1}/${rounds}: baseline ${Math.round(b.at(-1)!.rps)} req/s${cpu(b.at(-1)!)}, subject ${Math.round(s.at(-1)!.rps)} req/s${cpu(s.at(-1)!)}`)
  }
  return { baseline: medianResult(b), subject: medianResult(s), ratios: b.map((r, i) => r.rps === 0 ? 0 : s[i]!.rps / r.rps) }
}
