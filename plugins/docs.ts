// The OpenAPI 3 document, generated from the route schemas (@fastify/swagger), with the UI at /docs and the JSON at
// /docs/json. Registered before the routes so it sees them; a process documents only the routes its roles serve.
// The transform adds what every route shares but does not declare itself: the bearer requirement on reads, the
// errors any route can answer (500, body limits), the ETag on every answer of one entity version, and examples.
// Longer than most files: the examples, the schema naming and the shared-error transform are each small, and exist
// only to shape this one document.
import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifySchema } from 'fastify'
import { ROLES, ROLE_MANIFEST, checksIdentity, routeRole, type Role } from '../src/shared/roles.js'
import { packageVersion } from '../src/shared/build-info.js'
import { CreatePostBody, CreateUserBody, ETagHeader, ErrorBody, NotModified, Post, PostPage, Readiness, User } from '../src/shared/schemas.js'
import { encodeCursor } from '../src/shared/cursor.js'

const user = { user_id: 7, username: 'ada', created_at: '2025-01-31T09:15:00.000Z' }
const post = {
  post_id: 42,
  user_id: 7,
  title: 'Hello, postboard',
  content: 'The first post.',
  like_count: 3,
  dislike_count: 0,
  created_at: '2025-01-31T09:16:00.000Z'
}

/** A cursor this server really issues (the page after the example post), so requests built from the examples succeed. */
const cursor = encodeCursor(post.post_id)

/** Whole-schema examples, keyed by the schema constant the routes use. */
const EXAMPLES = new Map<object, unknown>([
  [User, user],
  [Post, post],
  [PostPage, { items: [post], next_cursor: cursor }],
  [CreateUserBody, { username: 'ada' }],
  [CreatePostBody, { user_id: 7, title: 'Hello, postboard', content: 'The first post.' }]
])

/** The ETag of the example entity a url answers (the example post is at version 4: three likes). */
const exampleTag = (url: string): string => url.includes('/users') ? '"u7-v1"' : '"p42-v4"'

/** Examples for params, querystring and header properties, by name (OpenAPI shows each as a parameter of its own). */
function propertyExample (name: string, url: string): unknown {
  if (name === 'id') return url.includes('/users/') ? user.user_id : post.post_id
  if (name === 'if-none-match') return exampleTag(url)
  if (name === 'min-version') return url.includes('/users/') ? '1' : '4'
  return ({ limit: '20', cursor, 'idempotency-key': '0b5e6c1e-3f4a-4c1d-9a57-5d2f1e8c7b21' } as Record<string, unknown>)[name]
}

/** Every answer of one entity version (a read by id, a create, a reaction, and a read's 304) carries its ETag. */
const TAGGED = new Set<object>([User, Post, NotModified])

function withETag (documented: object, declared: object, url: string): object {
  return TAGGED.has(declared) ? { ...documented, headers: { etag: { ...ETagHeader, examples: [exampleTag(url)] } } } : documented
}

/** What each error status means here, and a body the API really answers with. */
const ERRORS: Record<number, { description: string, message: (url: string) => string }> = {
  400: { description: 'The request fails its schema (body, params, query or headers)', message: () => 'params/id must be >= 1' },
  401: { description: 'Missing, malformed, expired or rejected bearer token', message: () => 'a bearer token is required' },
  403: { description: 'The token\'s subject may not do this', message: () => 'the token does not speak for user_id 8' },
  404: { description: 'No such entity', message: (url) => url.includes('/users') ? 'user 7 does not exist' : 'post 42 does not exist' },
  409: { description: 'Conflict with existing state', message: (url) => url.endsWith('/users') ? "username 'ada' is already taken" : 'a request with this Idempotency-Key is still running' },
  412: { description: 'Min-Version is newer than any version the store holds', message: (url) => `${url.includes('/users') ? 'user 7 is at version 1' : 'post 42 is at version 4'}; no stored version satisfies Min-Version 5` },
  413: { description: 'The body is larger than BODY_LIMIT_BYTES', message: () => 'Request body is too large' },
  415: { description: 'The body is not application/json', message: () => 'Unsupported Media Type: text/plain' },
  422: { description: 'Well-formed, but names something that does not exist', message: () => 'user_id 7 does not name an existing user' },
  500: { description: 'Unexpected failure; details are logged, never returned', message: () => 'something went wrong on our side; it has been logged' },
  503: { description: 'A dependency (data store, event bus or identity validator) is unavailable; Retry-After is set', message: () => 'the data store is unavailable; try again shortly' }
}

/** The schemas the document names in components.schemas, each used by reference wherever it appears. */
const NAMED: Record<string, object> = { User, Post, PostPage, CreateUserBody, CreatePostBody, Error: ErrorBody, Readiness }

/** A schema as JSON, keys sorted, without what a use adds (description, examples, response headers): uses compare equal. */
function shapeOf (schema: unknown): string {
  const plain = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(plain)
    if (value === null || typeof value !== 'object') return value
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, plain((value as Record<string, unknown>)[k])]))
  }
  const { description: _d, examples: _e, headers: _h, ...rest } = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>
  return JSON.stringify(plain(rest))
}

const NAMED_SHAPES = new Map(Object.entries(NAMED).map(([name, schema]) => [shapeOf(schema), name]))
/** Marks, in a route's schema, where a NAMED schema is used; nameSchemas turns each mark into a $ref. */
const MARK = 'x-schema-name'

function markNamed (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(markNamed)
  if (value === null || typeof value !== 'object') return value
  const marked = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, markNamed(v)]))
  const name = NAMED_SHAPES.get(shapeOf(value))
  return name === undefined ? marked : { ...marked, [MARK]: name }
}

/**
 * Replaces every marked schema (at any depth, as @fastify/swagger rendered it) by a $ref to components.schemas,
 * which it returns: clients and generators see one User, one Post, one Error, not a copy per operation.
 */
function nameSchemas (paths: unknown): { paths: unknown, schemas: Record<string, unknown> } {
  const schemas: Record<string, unknown> = {}
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk)
    if (value === null || typeof value !== 'object') return value
    const { [MARK]: name, ...rest } = value as Record<string, unknown>
    const inner = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, walk(v)]))
    if (typeof name !== 'string') return inner
    // The component is the schema itself; a use's own description (its status's meaning) stays with the response.
    const { description: _d, ...schema } = inner
    schemas[name] ??= schema
    return { $ref: `#/components/schemas/${name}` }
  }
  const out = walk(paths)
  return { paths: out, schemas: Object.fromEntries(Object.keys(schemas).sort().map((k) => [k, schemas[k]])) }
}

function withExample (schema: object): object {
  const example = EXAMPLES.get(schema)
  return example === undefined ? schema : { ...schema, examples: [example] }
}

/** Every route's params, querystring and headers are TypeBox objects, so each has properties to give examples. */
function withPropertyExamples (schema: object, url: string): object {
  const { properties } = schema as { properties: Record<string, object> }
  return {
    ...schema,
    properties: Object.fromEntries(Object.entries(properties).map(([name, prop]) => {
      const example = propertyExample(name, url)
      // Spread last, so an example a schema gives itself wins. Every property routes have today has an example.
      /* c8 ignore next */
      return [name, example === undefined ? prop : { examples: [example], ...prop }]
    }))
  }
}

/** The standard reason phrase; every status a route declares is a standard one. */
const reasonOf = (status: number): string => STATUS_CODES[status]!

function withDescription (schema: object, status: number): object {
  return 'description' in schema ? schema : { ...schema, description: reasonOf(status) }
}

function errorResponse (status: number, url: string): object {
  const reason = reasonOf(status)
  // A status ERRORS does not describe yet is still documented, by its reason phrase alone (none today).
  /* c8 ignore next */
  const meaning = ERRORS[status] ?? { description: reason, message: () => reason }
  return {
    ...ErrorBody,
    description: `${reason}: ${meaning.description}`,
    examples: [{ statusCode: status, error: reason, message: meaning.message(url) }]
  }
}

/** Whether a role's routes demand a bearer token: its manifest says so (for writes, only under --auth-writes). */
function needsToken (role: Role | undefined, authWrites: boolean): boolean {
  return role !== undefined && checksIdentity(new Set([role]), authWrites)
}

/** The error statuses a route can answer beyond the ones its own schema declares. */
function implicitErrors (schema: FastifySchema, url: string, authWrites: boolean): number[] {
  const codes = [500]
  if (schema.body !== undefined) codes.push(400, 413, 415)
  if (schema.params !== undefined || schema.querystring !== undefined || schema.headers !== undefined) codes.push(400)
  // A role's routes answer 503 when a dependency is out, and 401 (identity fails closed, 503 too) when they need a
  // token; a write needing a token also answers 403 for a post made as someone else.
  const role = routeRole(url)
  if (role !== undefined) codes.push(503)
  if (needsToken(role, authWrites)) codes.push(401, ...(role === 'write' ? [403] : []))
  return codes
}

interface OpenApiObject {
  paths: Record<string, Record<string, { tags?: string[] }>>
  tags: Array<{ name: string }>
  components: Record<string, unknown>
}

export default fp(async (app) => {
  const { authWrites, roles } = app.config
  const bearer = (url: string): boolean => needsToken(routeRole(url), authWrites)

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'postboard',
        version: packageVersion(),
        description: 'Read-optimized CQRS backend for users and posts. This document lists the routes of the roles ' +
          `this process runs (${[...roles].join(', ')}). Errors are always { statusCode, error, message }.`
      },
      // Relative, so the document stays right behind the router and on any host or port.
      servers: [{ url: '/', description: 'this server, or the router in front of it' }],
      tags: [
        ...ROLES.flatMap((r) => { const spec = ROLE_MANIFEST[r].routes; return spec === null ? [] : [{ name: spec.tag, description: spec.description }] }),
        { name: 'health', description: 'Liveness and readiness for orchestrators' },
        { name: 'ops', description: 'Metrics' }
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token the identity validator accepts (`postboard token --user <id>` mints one in development)' }
        }
      }
    },
    transform: ({ schema, url }) => {
      // Every route here has a schema (house style); one without would be documented as Fastify has it.
      /* c8 ignore next */
      if (schema === undefined || schema === null) return { schema, url }
      // Hidden routes (the UI's own) come through here too, without a response schema.
      const declared = (schema.response ?? {}) as Record<string, object>
      const response: Record<string, object> = {}
      for (const [code, s] of Object.entries(declared)) {
        response[code] = s === ErrorBody ? errorResponse(Number(code), url) : withETag(withDescription(withExample(s), Number(code)), s, url)
      }
      for (const code of implicitErrors(schema, url, authWrites)) response[code] ??= errorResponse(code, url)
      const out: FastifySchema & { security?: unknown } = {
        ...schema,
        response,
        ...(schema.body !== undefined && { body: withExample(schema.body as object) }),
        ...(schema.params !== undefined && { params: withPropertyExamples(schema.params as object, url) }),
        ...(schema.querystring !== undefined && { querystring: withPropertyExamples(schema.querystring as object, url) }),
        ...(schema.headers !== undefined && { headers: withPropertyExamples(schema.headers as object, url) }),
        ...(bearer(url) && { security: [{ bearer: [] }] })
      }
      return { schema: markNamed(out) as FastifySchema, url }
    },
    transformObject: (doc) => {
      // The document is OpenAPI 3 (configured above), never Swagger 2.
      const openapi = (doc as { openapiObject: OpenApiObject }).openapiObject
      // Only the tags this process's routes use, so a role's document describes that role alone. (Every route has
      // tags today; an untagged one would simply add none.)
      /* c8 ignore next */
      const used = new Set(Object.values(openapi.paths).flatMap((ops) => Object.values(ops).flatMap((op) => op.tags ?? [])))
      const named = nameSchemas(openapi.paths)
      return {
        ...openapi,
        tags: openapi.tags.filter((tag) => used.has(tag.name)),
        paths: named.paths as OpenApiObject['paths'],
        components: { ...openapi.components, schemas: named.schemas }
      }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } })
}, { name: 'docs', dependencies: ['config'] })
