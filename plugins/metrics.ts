// This app's metric series (created here, so two apps in one process never share a count), decorated as `metrics`,
// and HTTP metrics for every route; routes/metrics.ts serves them. Requests are labelled by route template
// (`/get_server/posts/:id`), never the raw URL, so cardinality stays bounded; a request no route matched is labelled
// `unmatched`.
import fp from 'fastify-plugin'
import type { onResponseHookHandler } from 'fastify'
import { createMetrics, type Metrics } from '../src/shared/metrics.js'
import { packageVersion } from '../src/shared/build-info.js'
import { routeRole } from '../src/shared/roles.js'

declare module 'fastify' {
  interface FastifyInstance { metrics: Metrics }
}

const UNMATCHED = 'unmatched'
/** The role label of what no role's prefix covers: health, metrics, docs, and requests no route matched. */
const OPS = 'ops'

/** One route's onResponse hook: its series' handles bound on first use, by method and status. */
function routeHook ({ httpRequests, httpDuration }: Metrics, route: string): onResponseHookHandler {
  const role = routeRole(route) ?? OPS
  const handles = new Map<string, { requests: { inc: () => void }, duration: { observe: (seconds: number) => void } }>()
  return (req, reply, done) => {
    const status = reply.statusCode
    const key = req.method + status
    let h = handles.get(key)
    if (h === undefined) {
      h = {
        requests: httpRequests.bind({ role, method: req.method, route, status: String(status) }),
        duration: httpDuration.bind({ role, method: req.method, route })
      }
      handles.set(key, h)
    }
    h.requests.inc()
    h.duration.observe(reply.elapsedTime / 1000)
    done()
  }
}

export default fp(async (app) => {
  const metrics = createMetrics({ version: packageVersion(), commit: app.config.buildCommit, roles: [...app.config.roles] })
  app.decorate('metrics', metrics)
  // Each route gets its own onResponse hook holding its series' handles, so a response costs a Map lookup by status
  // and two additions: no label object, no label-key join, and no read of request.routeOptions (a getter that builds
  // a fresh object per call). buildApp registers this plugin before any route, so onRoute sees them all.
  app.addHook('onRoute', (route) => {
    const hook = routeHook(metrics, route.url)
    route.onResponse = route.onResponse === undefined ? [hook] : [hook, ...[route.onResponse].flat()]
  })
  // What no route matched (404s, and the router's own 400/414 refusals) is counted once, as `unmatched`.
  app.addHook('onResponse', (req, reply, done) => {
    if (req.is404) {
      metrics.httpRequests.inc({ role: OPS, method: req.method, route: UNMATCHED, status: String(reply.statusCode) })
      metrics.httpDuration.observe({ role: OPS, method: req.method, route: UNMATCHED }, reply.elapsedTime / 1000)
    }
    done()
  })
}, { name: 'metrics', dependencies: ['config'] })
