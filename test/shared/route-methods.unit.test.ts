// RouteMethods: which methods the routes serve at a concrete path, by the router's path templates.
import t from 'tap'
import { RouteMethods } from '../../src/shared/route-methods.js'

t.test('templates match concrete paths; GET brings HEAD; wildcards; the query string is ignored', async (t) => {
  const routes = new RouteMethods()
  routes.add('/get_server/posts/:id', 'GET')
  routes.add('/post_server/posts/:id/like', ['POST'])
  routes.add('/docs/*', ['GET', 'HEAD'])
  routes.add('/a.b', 'post')
  t.same(routes.allowed('/get_server/posts/12?x=1'), ['GET', 'HEAD'])
  t.same(routes.allowed('/post_server/posts/12/like'), ['POST'])
  t.same(routes.allowed('/docs/static/index.html'), ['GET', 'HEAD'])
  t.same(routes.allowed('/a.b'), ['POST'])
  t.same(routes.allowed('/aXb'), [], 'a dot in a template is a dot')
  t.same(routes.allowed('/get_server/posts/12/extra'), [], 'a parameter is one segment')
  t.same(routes.allowed('/get_server/posts/'), [], 'and not an empty one')
})
