// A path some route serves, asked with a method none serves there, is a 405 naming the methods in Allow (RFC 9110),
// in the API's error shape; a path no route serves stays a 404. Methods that carry a body get the 405 before it is
// parsed (QUERY without a content type would otherwise be a 400).
import t from 'tap'
import { build } from '../helper/index.js'

t.test('405 with Allow for a method the path does not serve; 404 for an unknown path', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'lambda' })
  const cases: Array<[string, string, string]> = [
    ['DELETE', '/get_server/users/1', 'GET, HEAD'],
    ['PATCH', '/get_server/posts/7?limit=3', 'GET, HEAD'],
    ['QUERY', '/get_server/posts', 'GET, HEAD'],
    ['TRACE', '/metrics', 'GET, HEAD'],
    ['GET', '/post_server/users', 'POST'],
    ['PUT', '/post_server/posts/3/like', 'POST'],
    ['OPTIONS', '/health/ready', 'GET, HEAD']
  ]
  for (const [method, url, allow] of cases) {
    const res = await app.inject({ method: method as 'GET', url })
    t.equal(res.statusCode, 405, `${method} ${url}: 405`)
    t.equal(res.headers.allow, allow, `${method} ${url}: Allow`)
    t.same(res.json(), { statusCode: 405, error: 'Method Not Allowed', message: `${method} is not allowed on ${url.split('?')[0]!}; allowed: ${allow}` })
  }
  const unknown = await app.inject({ method: 'DELETE', url: '/get_server/nothing/here' })
  t.equal(unknown.statusCode, 404, 'an unknown path is still a 404')
  t.equal(unknown.headers.allow, undefined, 'with no Allow')
  // A served method is untouched by this: a read without a token is still refused by identity.
  t.equal((await app.inject({ method: 'GET', url: '/get_server/users/1' })).statusCode, 401)
})

t.test('a role answers 405 only for paths it serves itself', async (t) => {
  const app = await build(t, { role: 'read' }, { IDENTITY_MODE: 'off' })
  t.equal((await app.inject({ method: 'GET', url: '/post_server/users' })).statusCode, 404, 'a write path on a read replica is unknown here')
  t.equal((await app.inject({ method: 'POST', url: '/get_server/users/1' })).statusCode, 405)
})
