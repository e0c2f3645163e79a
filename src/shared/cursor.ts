// Opaque list cursors: the id the next page starts below, base64url-encoded so clients treat it as a token.
export function encodeCursor (lastId: number): string {
  return Buffer.from(`p${lastId}`).toString('base64url')
}

/** The id a cursor names, or null when the cursor was not made by encodeCursor. */
export function decodeCursor (cursor: string): number | null {
  const text = Buffer.from(cursor, 'base64url').toString()
  if (!/^p[1-9]\d{0,15}$/.test(text)) return null
  const id = Number(text.slice(1))
  return Number.isSafeInteger(id) ? id : null
}
