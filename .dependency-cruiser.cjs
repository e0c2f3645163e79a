// The layering rule (docs/design.md, Layering): imports only run down the layers below, never up or sideways
// between two clients or two domains, and never in a circle. Run by `npm run lint:deps` inside `npm test`.
// Layers, top to bottom: entry (src/cli, server, app) > routes/ > plugins/ > domain > clients > src/shared/.
const ENTRY = '^src/(cli|server|app)[.]ts$'
const ROUTES = '^routes/'
const PLUGINS = '^plugins/'
const DOMAIN = '^src/(write|read|consumer|outbox|health)/'
const CLIENTS = '^src/(store|cache|bus|identity)/'
const SHARED = '^src/shared/'

/** A rule forbidding `from` to import anything matching `to`. */
const forbid = (name, comment, from, to, extra = {}) => ({ name, comment, severity: 'error', from: { path: from, ...extra.from }, to: { path: to, ...extra.to } })

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'Files that import each other cannot be understood or tested one at a time.', severity: 'error', from: {}, to: { circular: true } },
    forbid('shared-is-a-leaf', 'src/shared imports nothing of ours outside itself.', SHARED, `${ENTRY}|${ROUTES}|${PLUGINS}|${DOMAIN}|${CLIENTS}`),
    forbid('clients-look-down', 'A client (store, cache, bus, identity) imports only src/shared.', CLIENTS, `${ENTRY}|${ROUTES}|${PLUGINS}|${DOMAIN}`),
    // A client importing another client would tie two dependencies together (the cache reading MongoDB, say):
    // the domain layer composes them instead.
    forbid('clients-stand-apart', 'One client does not import another.', '^src/(store|cache|bus|identity)/', '^src/(store|cache|bus|identity)/',
      { to: { pathNot: '^src/$1/' } }),
    forbid('domain-looks-down', 'The domain receives clients and state as arguments; it never imports plugins, routes or the app.', DOMAIN, `${ENTRY}|${ROUTES}|${PLUGINS}`),
    forbid('domains-stand-apart', 'One domain does not import another; the plugins wire them together.', '^src/(write|read|consumer|outbox|health)/', DOMAIN,
      { to: { pathNot: '^src/$1/' } }),
    forbid('plugins-look-down', 'Plugins never import routes or the app.', PLUGINS, `${ENTRY}|${ROUTES}`),
    forbid('routes-look-down', 'Routes never import the app.', ROUTES, ENTRY)
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|plugins|routes)/',
    tsConfig: { fileName: 'tsconfig.build.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] }
  }
}
