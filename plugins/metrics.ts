// HTTP metrics for every route; routes/metrics.ts serves them. Requests are labelled by route template
// (`/get_server/posts/:id`), never the raw URL, so cardinality stays bounded; a request no route matched is labelled
// `unmatched`.
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import { httpDuration, httpRequests } from '../src/shared/metrics.js'

export const UNMATCHED = 'unmatched'

/** Counts one response into its route's series (the slow path: label objects; used for unmatched requests). */
function count (req: FastifyRequest, reply: FastifyReply, route: string): void {
  httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) })
  httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000)
}

/** One route's onResponse hook: its series' handles bound on first use, by method and status. */
function routeHook (route: string): onResponseHookHandler {
  const handles = new Map<string, { requests: { inc: () => void }, duration: { observe: (seconds: number) => void } }>()
  return (req, reply, done) => {
    const status = reply.statusCode
    const key = req.method + status
    let h = handles.get(key)
    if (h === undefined) {
      h = {
        requests: httpRequests.bind({ method: req.method, route, status: String(status) }),
        duration: httpDuration.bind({ method: req.method, route })
      }
      handles.set(key, h)
    }
    h.requests.inc()
    h.duration.observe(reply.elapsedTime / 1000)
    done()
  }
}

export default fp(async (app) => {
  // Each route gets its own onResponse hook holding its series' handles, so a response costs a Map lookup by status
  // and two additions: no label object, no label-key join, and no read of request.routeOptions (a getter that builds
  // a fresh object per call). buildApp registers this plugin before any route, so onRoute sees them all.
  app.addHook('onRoute', (route) => {
    const hook = routeHook(route.url)
    route.onResponse = route.onResponse === undefined ? [hook] : [hook, ...[route.onResponse].flat()]
  })
  // What no route matched (404s, and the router's own 400/414 refusals) is counted once, as `unmatched`.
  app.addHook('onResponse', (req, reply, done) => {
    if (req.is404) count(req, reply, UNMATCHED)
    done()
  })
}, { name: 'metrics', dependencies: ['config'] })
