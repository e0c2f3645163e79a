// The AWS Lambda function (Node.js runtime): input { token }, output { valid, subject, expires_at, reason }.
// `npm run package:lambda` bundles this file into dist/identity-lambda.zip (handler "index.handler"); settings come
// from the function's environment: TOKEN_SECRET or TOKEN_SECRET_FILE (HS256) or TOKEN_JWKS_URL (RS256/ES256),
// TOKEN_ISSUER, TOKEN_AUDIENCE.
import { resolveSecretFiles } from '../shared/secret-files.js'
import { createValidator, type Verdict } from './validator.js'

// TOKEN_SECRET_FILE as the server reads it (a container platform's secret), once, at the function's start.
const { env } = resolveSecretFiles(process.env, (message) => new Error(message))
const jwksUrl = env.TOKEN_JWKS_URL !== undefined && env.TOKEN_JWKS_URL !== '' ? env.TOKEN_JWKS_URL : undefined
const secret = env.TOKEN_SECRET !== undefined && env.TOKEN_SECRET !== '' ? env.TOKEN_SECRET : undefined

// Without key material of its own the function must not start (every invoke then fails, and the server answers 503:
// fail closed). There is no fallback secret: the local stack gives its function the secret it generated.
if (jwksUrl === undefined && secret === undefined) {
  throw new Error('TOKEN_SECRET (or TOKEN_SECRET_FILE) or TOKEN_JWKS_URL must be set on the function')
}

const validate = createValidator({
  secret,
  issuer: env.TOKEN_ISSUER ?? 'postboard',
  audience: env.TOKEN_AUDIENCE ?? 'postboard-api',
  jwksUrl,
  algorithms: env.TOKEN_ALGORITHMS?.split(',').map((s) => s.trim()).filter((s) => s !== '')
})

export async function handler (event: unknown): Promise<Verdict> {
  const token = typeof event === 'object' && event !== null ? (event as { token?: unknown }).token : undefined
  return await validate(token)
}
