// /docs and /docs/json: an OpenAPI 3 document generated from the route schemas, listing per role exactly that role's
// endpoints, each with its success and every error it can answer, examples, and the bearer requirement on reads;
// the ETag on every entity answer, and GET by id's conditional headers with their 304 and 412.
import t from 'tap'
import { readFileSync } from 'node:fs'
import type { FastifyInstance, HTTPMethods } from 'fastify'
import { ROOT, build } from '../helper/index.js'

interface Schema { $ref?: string, properties?: Record<string, unknown> }
interface Media { schema: Schema, example?: unknown }
interface Operation {
  operationId?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
  parameters?: Array<{ name: string, in: string, example?: unknown }>
  requestBody?: { content: Record<string, Media> }
  responses: Record<string, { description: string, content?: Record<string, Media>, headers?: Record<string, { description?: string, schema: { examples?: unknown[] } }> }>
}
interface OpenApi {
  openapi: string
  info: { title: string, version: string }
  tags: Array<{ name: string }>
  components: { securitySchemes: Record<string, { type: string, scheme: string }>, schemas: Record<string, Schema> }
  paths: Record<string, Record<string, Operation>>
}

const COMMON = {
  'GET /health/live': [500],
  'GET /health/ready': [500, 503],
  'GET /metrics': [500]
}
/** Every endpoint of each role and the error statuses the design table (and the error handler) says it answers. */
const ENDPOINTS: Record<string, Record<string, number[]>> = {
  read: {
    'GET /get_server/users/{id}': [400, 401, 404, 412, 500, 503],
    'GET /get_server/posts/{id}': [400, 401, 404, 412, 500, 503],
    'GET /get_server/posts': [400, 401, 500, 503]
  },
  write: {
    'POST /post_server/users': [400, 409, 413, 415, 500, 503],
    'POST /post_server/posts': [400, 413, 415, 422, 500, 503],
    'POST /post_server/posts/{id}/like': [400, 404, 500, 503],
    'POST /post_server/posts/{id}/dislike': [400, 404, 500, 503]
  },
  consumer: {}
}

async function docOf (app: FastifyInstance): Promise<OpenApi> {
  const res = await app.inject('/docs/json')
  if (res.statusCode !== 200) throw new Error(`/docs/json answered ${res.statusCode}`)
  return res.json<OpenApi>()
}

/** A schema, or the named component schema it refers to. */
function resolve (doc: OpenApi, schema: Schema | undefined): Schema | undefined {
  const name = schema?.$ref?.replace('#/components/schemas/', '')
  return name === undefined ? schema : doc.components.schemas[name]
}

function operations (doc: OpenApi): Map<string, Operation> {
  return new Map(Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as const)))
}

for (const role of ['read', 'write', 'consumer'] as const) {
  t.test(`${role} role: /docs/json lists this role's endpoints, each with its errors`, async (t) => {
    const app = await build(t, { role }, { IDENTITY_MODE: 'off' })
    const doc = await docOf(app)
    t.match(doc.openapi, /^3\./, 'OpenAPI 3')
    t.equal(doc.info.title, 'postboard')
    t.match(doc.info.version, /^\d+\.\d+\.\d+/)

    const expected = { ...COMMON, ...ENDPOINTS[role] }
    const ops = operations(doc)
    t.same([...ops.keys()].sort(), Object.keys(expected).sort(), 'exactly this role\'s endpoints')

    for (const [key, errors] of Object.entries(expected)) {
      const op = ops.get(key)!
      const [method, path] = key.split(' ') as [HTTPMethods, string]
      t.ok(app.hasRoute({ method, url: path.replace(/\{(\w+)\}/g, ':$1') }), `${key} is a real route`)
      const success = Object.keys(op.responses).filter((c) => c.startsWith('2'))
      t.equal(success.length, 1, `${key}: one success response`)
      const ok = op.responses[success[0]!]!
      t.ok(Object.values(ok.content ?? {}).some((m) => m.example !== undefined), `${key}: the success response has an example`)
      for (const code of errors) {
        const res = op.responses[String(code)]
        t.ok(res, `${key}: documents ${code}`)
        t.match(res?.description, /\w+/, `${key} ${code}: described`)
        if (key === 'GET /health/ready' && code === 503) continue // answers its own readiness body
        const media = res?.content?.['application/json']
        t.same(media?.schema, { $ref: '#/components/schemas/Error' }, `${key} ${code}: the named error body`)
        t.same(Object.keys(resolve(doc, media?.schema)?.properties ?? {}).sort(), ['error', 'message', 'statusCode'], `${key} ${code}: the error body`)
        t.match(media?.example, { statusCode: code, error: String, message: String }, `${key} ${code}: an example body`)
      }
      t.match(op.operationId, /^[a-z][A-Za-z]+$/, `${key}: an operationId`)
      t.equal(op.security !== undefined, path.startsWith('/get_server/'), `${key}: bearer only on reads`)
      if (op.security !== undefined) t.same(op.security, [{ bearer: [] }])
      for (const p of op.parameters ?? []) t.not(p.example, undefined, `${key}: parameter ${p.name} has an example`)
      if (op.requestBody !== undefined) {
        t.not(op.requestBody.content['application/json']?.example, undefined, `${key}: the body has an example`)
      }
    }
    const tags = doc.tags.map((tag) => tag.name).sort()
    t.same(tags, [...new Set([...ops.values()].flatMap((op) => op.tags ?? []))].sort(), 'only the tags these routes use')
    t.match(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: String })
  })
}

/** The endpoints whose success answers one entity version, and so carries its ETag. */
const TAGGED = ['GET /get_server/users/{id}', 'GET /get_server/posts/{id}', 'POST /post_server/users', 'POST /post_server/posts',
  'POST /post_server/posts/{id}/like', 'POST /post_server/posts/{id}/dislike']

t.test('ETags and conditional reads: every entity answer has the header; GET by id takes Min-Version and If-None-Match', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'off' })
  const ops = operations(await docOf(app))
  for (const [key, op] of ops) {
    const success = Object.entries(op.responses).find(([code]) => code.startsWith('2'))![1]
    const etag = success.headers?.etag
    t.equal(etag !== undefined, TAGGED.includes(key), `${key}: an ETag header ${TAGGED.includes(key) ? 'documented' : 'only on entity answers'}`)
    if (etag !== undefined) {
      t.match(etag.description, /strong entity tag/i, `${key}: the ETag described`)
      t.match(etag.schema.examples, [/^"[pu]\d+-v\d+"$/], `${key}: with an example tag`)
    }
  }
  for (const key of ['GET /get_server/users/{id}', 'GET /get_server/posts/{id}']) {
    const op = ops.get(key)!
    t.same(op.parameters?.filter((p) => p.in === 'header').map((p) => p.name).sort(), ['if-none-match', 'min-version'], `${key}: the conditional headers`)
    const notModified = op.responses['304']
    t.match(notModified?.description, /Not Modified/, `${key}: 304 documented`)
    t.equal(notModified?.content, undefined, `${key}: 304 has no body`)
    t.ok(notModified?.headers?.etag, `${key}: 304 carries the ETag`)
    t.match(op.responses['412']?.content?.['application/json']?.example, { statusCode: 412, message: /Min-Version/ }, `${key}: 412 with an example`)
  }
  t.equal(ops.get('GET /get_server/posts')?.responses['304'], undefined, 'a list page has no ETag and no 304')
})

t.test('all roles: one document with both prefixes; /docs serves the UI', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'off' })
  const ops = operations(await docOf(app))
  const expected = [...Object.keys(COMMON), ...Object.values(ENDPOINTS).flatMap((e) => Object.keys(e))]
  t.same([...ops.keys()].sort(), expected.sort())
  const ui = await app.inject('/docs/')
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.match(ui.body, /swagger/i)
  const yaml = await app.inject('/docs/yaml')
  t.equal(yaml.statusCode, 200)
  t.match(yaml.body, /^openapi: 3\./m)
})

t.test('--auth-writes: writes need the bearer token too, and document 401 and 403', async (t) => {
  const app = await build(t, { role: 'write', authWrites: true }, { IDENTITY_MODE: 'off' })
  const ops = operations(await docOf(app))
  for (const key of Object.keys(ENDPOINTS.write!)) {
    const op = ops.get(key)!
    t.same(op.security, [{ bearer: [] }], `${key}: bearer`)
    t.ok(op.responses['401'] !== undefined && op.responses['403'] !== undefined, `${key}: 401 and 403`)
  }
})

t.test('operationIds are unique; entities, bodies, pages and errors are named component schemas', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'off' })
  const doc = await docOf(app)
  const ids = [...operations(doc).values()].map((op) => op.operationId)
  t.equal(new Set(ids).size, ids.length, 'unique operationIds')
  t.same(Object.keys(doc.components.schemas).sort(), ['CreatePostBody', 'CreateUserBody', 'Error', 'Post', 'PostPage', 'Readiness', 'User'])
  const ops = operations(doc)
  t.same(ops.get('GET /get_server/posts/{id}')?.responses['200']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/Post' })
  t.same(ops.get('POST /post_server/users')?.requestBody?.content['application/json']?.schema, { $ref: '#/components/schemas/CreateUserBody' })
  t.match(doc.components.schemas.PostPage, { properties: { items: { items: { $ref: '#/components/schemas/Post' } } } }, 'a page\'s items are Posts')
  // No schema names another that does not exist.
  const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? []
  for (const ref of new Set(refs)) t.ok(doc.components.schemas[ref.split('/').pop()!], `${ref} exists`)
})

t.test('the examples are answers the API really gives: the list example cursor is one this server issues', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'off' })
  const op = operations(await docOf(app)).get('GET /get_server/posts')!
  const cursor = op.parameters?.find((p) => p.name === 'cursor')?.example
  const res = await app.inject({ url: `/get_server/posts?cursor=${String(cursor)}` })
  t.equal(res.statusCode, 200, `cursor ${String(cursor)} is accepted`)
})

t.test('the committed openapi.json is the live document (regenerate it with `npm run openapi`)', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'off' })
  const committed = JSON.parse(readFileSync(`${ROOT}/openapi.json`, 'utf8')) as unknown
  t.strictSame(await docOf(app), committed, 'openapi.json is up to date')
})
