// The AWS Lambda function (Node.js runtime): input { token }, output { valid, subject, expires_at, reason }.
// `npm run package:lambda` bundles this file into dist/identity-lambda.zip (handler "index.handler"); settings come
// from the function's environment: TOKEN_SECRET (HS256) or TOKEN_JWKS_URL (RS256/ES256), TOKEN_ISSUER, TOKEN_AUDIENCE.
import { createValidator, type Verdict } from './validator.js'

const DEV_SECRET = 'postboard-local-development-secret-change-me'
const env = process.env
const jwksUrl = env.TOKEN_JWKS_URL !== undefined && env.TOKEN_JWKS_URL !== '' ? env.TOKEN_JWKS_URL : undefined
const secret = env.TOKEN_SECRET !== undefined && env.TOKEN_SECRET !== '' ? env.TOKEN_SECRET : undefined

// AWS_EXECUTION_ENV is set by Lambda's managed runtimes, never by the local emulator: deployed without its own key
// material the function must not start (every invoke then fails, and the server answers 503: fail closed), because
// the development secret is public and anyone could mint tokens with it.
if (jwksUrl === undefined && secret === undefined && env.AWS_EXECUTION_ENV !== undefined) {
  throw new Error('TOKEN_SECRET or TOKEN_JWKS_URL must be set on the function; refusing the public development secret')
}

const validate = createValidator({
  secret: secret ?? DEV_SECRET,
  issuer: env.TOKEN_ISSUER ?? 'postboard',
  audience: env.TOKEN_AUDIENCE ?? 'postboard-api',
  jwksUrl,
  algorithms: env.TOKEN_ALGORITHMS?.split(',').map((s) => s.trim()).filter((s) => s !== '')
})

export async function handler (event: unknown): Promise<Verdict> {
  const token = typeof event === 'object' && event !== null ? (event as { token?: unknown }).token : undefined
  return await validate(token)
}
