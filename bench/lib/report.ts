// Writes the benchmark report: Markdown table, JSON, and an SVG bar chart of each subject against its baseline.
import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { median, type LoadResult } from './load.js'

export interface Row {
  scenario: string
  baselineName: string
  subjectName: string
  baseline?: LoadResult
  subject: LoadResult
  /** Subject over baseline req/s in each round (pairs run back to back). */
  ratios?: number[]
  /** What the subject is judged by, e.g. ratio ≥ 0.9 or p99 ≤ 10 ms. */
  target?: string
  met?: boolean
  note?: string
}

export interface Extra { name: string, value: string, target?: string, met?: boolean }

function commit (root: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim()
  } catch {
    return 'unknown'
  }
}

const fmt = (n: number): string => n >= 100 ? String(Math.round(n)) : n.toFixed(2)

/** The median of the rounds' ratios where the row has them; otherwise subject over baseline of the medians. */
export function ratio (row: Row): number | undefined {
  if (row.ratios !== undefined && row.ratios.length > 0) return median(row.ratios)
  return row.baseline === undefined || row.baseline.rps === 0 ? undefined : row.subject.rps / row.baseline.rps
}

/** Baseline CPU per request over the subject's: above 1, the subject does the same work for less CPU. */
export function efficiency (row: Row): number | undefined {
  const [b, s] = [row.baseline?.cpuUs, row.subject.cpuUs]
  return b === undefined || s === undefined || s === 0 ? undefined : b / s
}

function ratioCell (row: Row): string {
  const q = ratio(row)
  if (q === undefined) return ''
  if (row.ratios === undefined || row.ratios.length < 2) return q.toFixed(3)
  return `${q.toFixed(3)} (${Math.min(...row.ratios).toFixed(2)}–${Math.max(...row.ratios).toFixed(2)})`
}

function cpuCell (row: Row, field: 'cpuUs' | 'machineUs' = 'cpuUs'): string {
  const us = (r: LoadResult | undefined): string => r?.[field] === undefined ? '–' : r[field].toFixed(0)
  if (row.subject[field] === undefined && row.baseline?.[field] === undefined) return ''
  const eff = field === 'cpuUs' ? efficiency(row) : undefined
  return row.baseline === undefined ? us(row.subject) : `${us(row.baseline)} / ${us(row.subject)}${eff === undefined ? '' : ` (${eff.toFixed(2)}×)`}`
}

export function writeReport (root: string, rows: Row[], extras: Extra[], seconds: number): string {
  const meta = { date: new Date().toISOString(), commit: commit(root), cores: cpus().length, cpu: cpus()[0]?.model ?? '', node: process.version, seconds }
  const lines = [
    '# postboard benchmark report',
    '',
    `${meta.date} · commit ${meta.commit} · ${meta.cores} cores (${meta.cpu}) · Node ${meta.node} · ${meta.seconds}s per round`,
    '',
    'Every subject ran alternately with its baseline in the same run, the subject first in every other round. req/s',
    'and latencies (ms) are medians of the rounds; the ratio is the median of the rounds\' own ratios (subject over',
    'baseline, back to back), with their range. Server CPU is the server process\'s user + system time per request, in',
    'microseconds (median of the rounds): on a shared machine it swings far less than throughput does. Machine CPU is',
    'every core\'s busy time per request (store, broker and load generator included): for writes, where most of the',
    'work is the store\'s, that is the figure to compare.',
    '',
    '| scenario | baseline | req/s | subject | req/s | ratio (range) | server CPU µs/req (baseline / subject, efficiency) | machine CPU µs/req (baseline / subject) | p50 | p99 | max | errors/non-2xx | target | met |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |'
  ]
  for (const r of rows) {
    lines.push(`| ${r.scenario} | ${r.baselineName} | ${r.baseline === undefined ? '' : fmt(r.baseline.rps)} | ${r.subjectName} | ${fmt(r.subject.rps)} | ${ratioCell(r)} | ${cpuCell(r)} | ${cpuCell(r, 'machineUs')} | ${fmt(r.subject.p50)} | ${fmt(r.subject.p99)} | ${fmt(r.subject.max)} | ${r.subject.errors}/${r.subject.non2xx} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`)
  }
  if (extras.length > 0) {
    lines.push('', '| measurement | value | target | met |', '| --- | --- | --- | --- |')
    for (const e of extras) lines.push(`| ${e.name} | ${e.value} | ${e.target ?? ''} | ${e.met === undefined ? '' : e.met ? 'yes' : '**no**'} |`)
  }
  const notes = rows.filter((r) => r.note !== undefined)
  if (notes.length > 0) {
    lines.push('', '## Notes', '')
    for (const r of notes) lines.push(`- **${r.scenario}**: ${r.note ?? ''}`)
  }
  lines.push('', '![throughput chart](report.svg)', '')
  const md = lines.join('\n')
  writeFileSync(join(root, 'bench/report.md'), md)
  writeFileSync(join(root, 'bench/report.json'), JSON.stringify({ meta, rows, extras }, null, 2) + '\n')
  writeFileSync(join(root, 'bench/report.svg'), chart(rows))
  return md
}

/** Horizontal bars: baseline (grey) and subject (blue) req/s per scenario, with the ratio written beside. */
function chart (rows: Row[]): string {
  const barH = 14
  const gap = 10
  const left = 330
  const width = 900
  const max = Math.max(1, ...rows.flatMap((r) => [r.subject.rps, r.baseline?.rps ?? 0]))
  const scale = (v: number): number => Math.max(1, (v / max) * (width - left - 120))
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  let y = 40
  const parts: string[] = []
  for (const r of rows) {
    parts.push(`<text x="8" y="${y + barH}" font-size="12">${esc(`${r.scenario}: ${r.subjectName}`)}</text>`)
    if (r.baseline !== undefined) {
      parts.push(`<rect x="${left}" y="${y}" width="${scale(r.baseline.rps)}" height="${barH - 2}" fill="#bbb"/>`)
      parts.push(`<text x="${left + scale(r.baseline.rps) + 4}" y="${y + barH - 3}" font-size="10">${Math.round(r.baseline.rps)} (${esc(r.baselineName)})</text>`)
    }
    const sy = y + barH
    const q = ratio(r)
    parts.push(`<rect x="${left}" y="${sy}" width="${scale(r.subject.rps)}" height="${barH - 2}" fill="${r.met === false ? '#d9534f' : '#337ab7'}"/>`)
    parts.push(`<text x="${left + scale(r.subject.rps) + 4}" y="${sy + barH - 3}" font-size="10">${Math.round(r.subject.rps)}${q === undefined ? '' : ` (${q.toFixed(2)}×)`}</text>`)
    y += 2 * barH + gap
  }
  const height = y + 20
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="20" font-size="14" font-weight="bold">postboard: requests/s, subject (blue, red = target missed) vs baseline (grey)</text>
${parts.join('\n')}
</svg>
`
}
