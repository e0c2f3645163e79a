// Strict request checking for the write routes, set on their plugin scope: bodies are validated as sent (the app's
// Ajv coerces types, which would turn {"username": 123} into "123"), every error names the field, string lengths count
// characters (code points) as JSON Schema and the seed's VARCHAR limits do, and a body that is not JSON is a 415
// saying what was expected.
import type { FastifyInstance, FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import { Kind, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { UnsupportedMediaType } from '../shared/errors.js'

/** At most this many problems in one message: enough to fix a request, short enough to read. */
const MAX_REPORTED = 3
const DECIMAL = /^\d{1,16}$/

export function strictJson (app: FastifyInstance): void {
  app.setValidatorCompiler(compileStrict)
  app.setSchemaErrorFormatter(formatValidationErrors)
  // application/json keeps Fastify's parser (which rejects invalid JSON and __proto__ keys with a 400); every other
  // type, text/plain included (Fastify parses it by default), is refused by name.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('*', (req, _payload, done) => {
    done(new UnsupportedMediaType(req.headers['content-type'] ?? 'none'), undefined)
  })
}

/**
 * TypeBox's compiled check. Bodies are checked exactly as parsed; params and headers arrive as strings, and only a
 * plain decimal string becomes an integer (TypeBox's own conversion would read "1.5" or "1e3" as a number).
 */
const compileStrict: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const { checked, limits } = lengthsByCodePoint(schema)
  const check = TypeCompiler.Compile(checked)
  const integers = httpPart === 'body' ? [] : integerProperties(schema)
  return (input: unknown) => {
    let value = input
    if (integers.length > 0 && input !== null && typeof input === 'object') {
      const copy: Record<string, unknown> = { ...input }
      for (const name of integers) {
        const raw = copy[name]
        if (typeof raw === 'string' && DECIMAL.test(raw)) copy[name] = Number(raw)
      }
      value = copy
    }
    if (check.Check(value)) {
      const tooLong = longString(value as Record<string, unknown>, limits)
      if (tooLong !== null) return { error: [tooLong] as FastifySchemaValidationError[] }
      const unstorable = httpPart === 'body' ? unstorableString(value, '') : null
      if (unstorable === null) return { value }
      return { error: [unstorable] as FastifySchemaValidationError[] }
    }
    // The text fields' pattern refuses U+0000 too: a field holding one is named for that, not as a pattern mismatch.
    // (Only the body's own fields: bodies are flat objects, and a failed body may be nested arbitrarily deep.)
    const unstorable = httpPart === 'body' ? unstorableField(value) : null
    if (unstorable !== null) return { error: [unstorable] as FastifySchemaValidationError[] }
    return { error: [...check.Errors(value)].map((e) => ({ message: e.message, instancePath: e.path })) as FastifySchemaValidationError[] }
  }
}

type Limits = Array<[name: string, maxLength: number]>

/**
 * The schema with its properties' maxLength taken out, and those limits: TypeBox counts UTF-16 units, so a title of
 * 255 emoji (510 units) would be refused, where JSON Schema (and so the OpenAPI document, which keeps maxLength) and
 * the seed's VARCHAR(255) count characters. The limits are checked by code point instead (longString).
 */
function lengthsByCodePoint (schema: TSchema): { checked: TSchema, limits: Limits } {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties
  if (properties === undefined) return { checked: schema, limits: [] }
  const limits: Limits = []
  const relaxed: Record<string, TSchema> = {}
  for (const [name, property] of Object.entries(properties)) {
    const { maxLength, ...rest } = property
    if (property[Kind] === 'String' && typeof maxLength === 'number') {
      limits.push([name, maxLength])
      // Spread keeps TypeBox's symbol keys (Kind, Optional), so the property is still the same type.
      relaxed[name] = rest as TSchema
    } else {
      relaxed[name] = property
    }
  }
  if (limits.length === 0) return { checked: schema, limits }
  return { checked: { ...schema, properties: relaxed }, limits }
}

/** The first string over its limit in characters (code points), as a validation error naming the field and limit. */
function longString (value: Record<string, unknown>, limits: Limits): { message: string, instancePath: string } | null {
  for (const [name, max] of limits) {
    const s = value[name]
    // A string longer than max code points is longer than max UTF-16 units: only those need counting.
    if (typeof s !== 'string' || s.length <= max) continue
    const count = codePoints(s)
    if (count > max) return { message: `must be at most ${max} characters (Unicode code points), got ${count}`, instancePath: `/${name}` }
  }
  return null
}

const SURROGATE_PAIR = /[\ud800-\udbff][\udc00-\udfff]/g

/** UTF-16 units less one per surrogate pair (a lone surrogate is refused later, by unstorableString). */
function codePoints (s: string): number {
  return s.length - (s.match(SURROGATE_PAIR)?.length ?? 0)
}

// JSON may escape a lone surrogate ("\ud800"); BSON stores strings as UTF-8, so MongoDB would keep U+FFFD while the
// response, the event and the cache kept the surrogate: store and cache would disagree (test/reliability/fuzz.test.ts).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
// JSON may also escape U+0000 ("\u0000"). MongoDB keeps it, but PostgreSQL-backed MongoDB-compatible stores cannot
// (jsonb has no NUL: FerretDB on PostgreSQL, the local and test store, fails the write), and no name, title or
// content needs it: refused everywhere alike rather than a 201 in production and a 500 elsewhere.
const NUL = '\u0000'

/** The first string the store could not keep exactly as sent, as a validation error; null when every one is fine. */
function unstorableString (value: unknown, path: string): { message: string, instancePath: string } | null {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) return { message: 'must be well-formed Unicode (no lone surrogates)', instancePath: path }
    if (value.includes(NUL)) return { message: 'must not contain U+0000 (NUL)', instancePath: path }
    return null
  }
  if (value === null || typeof value !== 'object') return null
  for (const [key, v] of Object.entries(value)) {
    const found = unstorableString(v, `${path}/${key}`)
    if (found !== null) return found
  }
  return null
}

/** The first of a body object's own string fields the store could not keep; null when none (or not an object). */
function unstorableField (value: unknown): { message: string, instancePath: string } | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null
  for (const [key, v] of Object.entries(value)) {
    const found = typeof v === 'string' ? unstorableString(v, `/${key}`) : null
    if (found !== null) return found
  }
  return null
}

function integerProperties (schema: TSchema): string[] {
  /* c8 ignore next -- every params and headers schema here is an object with properties */
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {}
  return Object.entries(properties).filter(([, s]) => s[Kind] === 'Integer').map(([name]) => name)
}

/** "body/username: expected string; body/extra: unexpected property": one entry per field, first problem each. */
function formatValidationErrors (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const byField = new Map<string, string>()
  for (const e of errors) {
    const field = `${dataVar}${e.instancePath}`
    /* c8 ignore next -- TypeBox gives every error a message */
    if (!byField.has(field)) byField.set(field, lowerFirst(e.message ?? 'is invalid'))
  }
  const parts = [...byField].slice(0, MAX_REPORTED).map(([field, message]) => `${field}: ${message}`)
  return new Error(parts.join('; '))
}

function lowerFirst (s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1)
}
