// The Grafana dashboard (deploy/grafana/postboard.json) and the Prometheus alert rules (deploy/prometheus/alerts.yml)
// query only series postboard exports, with labels those series carry: read from a real app's /metrics after traffic
// through every role, so a renamed series or label breaks this test rather than a dashboard in production.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ROOT, build, createUser, metricValue, waitFor } from '../helper/index.js'
import { mintToken } from '../../src/identity/token.js'

/** Series Prometheus itself records for every scrape target, and the labels it adds to every series. */
const PROMETHEUS_SERIES = new Set(['up'])
const TARGET_LABELS = new Set(['instance', 'job', 'le'])
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan'])

/** The series names and label names a PromQL expression uses. */
function promqlUses (expr: string): { names: string[], labels: string[] } {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  const labels = new Set<string>()
  for (const [, inner] of e.matchAll(/\{([^}]*)\}/g)) {
    for (const m of inner!.matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.add(m[1]!)
  }
  for (const [, inner] of e.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of inner!.split(',').map((s) => s.trim()).filter((s) => s !== '')) labels.add(l)
  }
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ').replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ')
  const names = [...e.matchAll(/(?<![\w$.])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()/g)].map((m) => m[1]!).filter((n) => !KEYWORDS.has(n.toLowerCase()))
  return { names: [...new Set(names)], labels: [...labels] }
}

interface Exposition { types: Map<string, string>, labels: Map<string, Set<string>> }

function exposition (text: string): Exposition {
  const types = new Map<string, string>()
  const labels = new Map<string, Set<string>>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) { types.set(type[1]!, type[2]!); continue }
    const sample = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? /.exec(line)
    if (sample === null) continue
    const set = labels.get(sample[1]!) ?? new Set<string>()
    for (const m of (sample[2] ?? '').matchAll(/(\w+)="/g)) set.add(m[1]!)
    labels.set(sample[1]!, set)
  }
  return { types, labels }
}

/** Whether a name is an exported series: itself, or a histogram's _bucket, _sum or _count. */
function exported (exp: Exposition, name: string): boolean {
  if (exp.types.has(name)) return true
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1]
  return base !== undefined && exp.types.get(base) === 'histogram'
}

function dashboardExprs (): string[] {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/postboard.json'), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> }
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => target.expr))
}

function ruleExprs (): string[] {
  const rules = parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string, expr: string, for?: string }> }> }
  return rules.groups.flatMap((g) => g.rules.map((r) => r.expr))
}

t.test('the PromQL reader finds series and labels, not functions, keywords or durations', async (t) => {
  t.same(promqlUses('histogram_quantile(0.99, sum by (le, role) (rate(pb_x_bucket{role=~"a|b", status="5.."}[5m]))) > 1'),
    { names: ['pb_x_bucket'], labels: ['role', 'status', 'le'] })
  t.same(promqlUses('max(a_b * on (instance) group_left (roles) c_d) and up{job="x"} offset 5m'),
    { names: ['a_b', 'c_d', 'up'], labels: ['job', 'instance', 'roles'] })
})

t.test('every series and label the dashboard and the alert rules query is one the service exports', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'lambda' })
  // Traffic through every role, so labelled series have samples to show their labels.
  const { user_id: id } = await createUser(app, 'observed')
  const auth = { authorization: `Bearer ${await mintToken(app.config.token, String(id), 300)}` }
  await waitFor('the consumer to apply the create', async () => (await app.inject({ url: `/get_server/users/${id}`, headers: auth })).statusCode === 200, 30_000)
  await waitFor('the consumer lag gauge', async () => (await app.metrics.consumerLag.get()).values.length > 0, 30_000)
  t.ok(await metricValue('pb_identity_verdicts_total', {}, app) > 0, 'identity verdicts moved')
  const exp = exposition((await app.inject('/metrics')).body)

  const exprs = { dashboard: dashboardExprs(), rules: ruleExprs() }
  t.ok(exprs.dashboard.length >= 15, `the dashboard has its queries (${exprs.dashboard.length})`)
  t.ok(exprs.rules.length >= 8, `the rules have their expressions (${exprs.rules.length})`)
  for (const [source, list] of Object.entries(exprs)) {
    for (const expr of list) {
      const { names, labels } = promqlUses(expr)
      t.ok(names.length > 0, `${source}: ${expr} names a series`)
      for (const name of names) {
        if (PROMETHEUS_SERIES.has(name)) continue
        t.ok(exported(exp, name), `${source}: ${name} is exported`)
      }
      const carried = new Set(names.flatMap((n) => [...(exp.labels.get(n) ?? []), ...(exp.labels.get(`${n}_bucket`) ?? []),
        ...(exp.labels.get(n.replace(/_(bucket|sum|count)$/, '')) ?? [])]))
      for (const label of labels) {
        if (TARGET_LABELS.has(label)) continue
        t.ok(carried.has(label), `${source}: label ${label} is on ${names.join(', ')}`)
      }
    }
  }
  // The golden signals per role are there: traffic, errors and latency by role, saturation by process.
  const all = exprs.dashboard.join('\n')
  for (const needle of ['pb_http_requests_total', 'status=~"5.."', 'pb_http_request_duration_seconds_bucket', 'nodejs_eventloop_lag_p99_seconds',
    'pb_consumer_lag_messages', 'pb_consumer_freshness_seconds_bucket', 'pb_outbox_pending', 'pb_dlq_messages_total']) {
    t.ok(all.includes(needle), `the dashboard shows ${needle}`)
  }
  t.ok(all.includes('by (role)') || all.includes('by (le, role)'), 'per role')
})
