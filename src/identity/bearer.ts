// Reads the token from `Authorization: Bearer <token>` (RFC 6750) and builds the WWW-Authenticate challenge.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

/** The bearer token, or null when the header is absent, uses another scheme, or is not a well-formed token. */
export function bearerToken (header: string | undefined): string | null {
  if (header === undefined) return null
  const m = BEARER.exec(header)
  return m === null ? null : m[1]!
}

/** A challenge without an error code when no token was sent, invalid_token with a reason when one was refused. */
export function challenge (reason?: string): string {
  const base = 'Bearer realm="postboard"'
  if (reason === undefined) return base
  // Quoted-string: the reason must not close the quote or escape it.
  return `${base}, error="invalid_token", error_description="${reason.replace(/["\\]/g, "'")}"`
}
