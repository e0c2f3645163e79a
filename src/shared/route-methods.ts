// Which methods each route path answers, so a request for a path that exists with a method it does not serve is a
// 405 naming the methods in `Allow` (RFC 9110 §15.5.6), not a 404 saying the path is unknown.

/** A route path as the router has it (`/get_server/posts/:id`, `/docs/*`), as a pattern for concrete paths. */
function patternOf (url: string): RegExp {
  const source = url.split('/').map((segment) => {
    if (segment === '*') return '.*'
    if (segment.startsWith(':')) return '[^/]+'
    return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }).join('/')
  return new RegExp(`^${source}$`)
}

export class RouteMethods {
  readonly #routes = new Map<string, { pattern: RegExp, methods: Set<string> }>()

  /** Records a route (method may be a list, as Fastify's route options allow). A GET answers HEAD too. */
  add (url: string, method: string | string[]): void {
    let route = this.#routes.get(url)
    if (route === undefined) {
      route = { pattern: patternOf(url), methods: new Set() }
      this.#routes.set(url, route)
    }
    for (const m of [method].flat()) {
      route.methods.add(m.toUpperCase())
      if (m.toUpperCase() === 'GET') route.methods.add('HEAD')
    }
  }

  /** The methods some route serves at this path (its query string ignored), sorted; empty when no route has it. */
  allowed (path: string): string[] {
    const bare = path.split('?')[0] ?? ''
    const methods = new Set<string>()
    for (const { pattern, methods: own } of this.#routes.values()) {
      if (pattern.test(bare)) for (const m of own) methods.add(m)
    }
    return [...methods].sort()
  }
}
