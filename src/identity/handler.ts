// The AWS Lambda function (Node.js runtime): input { token }, output { valid, subject, expires_at, reason }.
// Deploy the built file with handler "handler.handler"; settings come from the function's environment.
import { createValidator, type Verdict } from './validator.js'

const validate = createValidator({
  secret: process.env.TOKEN_SECRET ?? 'postboard-local-development-secret-change-me',
  issuer: process.env.TOKEN_ISSUER ?? 'postboard',
  audience: process.env.TOKEN_AUDIENCE ?? 'postboard-api',
  jwksUrl: process.env.TOKEN_JWKS_URL,
  algorithms: process.env.TOKEN_ALGORITHMS?.split(',').map((s) => s.trim()).filter((s) => s !== '')
})

export async function handler (event: unknown): Promise<Verdict> {
  const token = typeof event === 'object' && event !== null ? (event as { token?: unknown }).token : undefined
  return await validate(token)
}
