// TRUST_PROXY: the proxies (the router) whose X-Forwarded-For postboard believes. Behind nginx every request comes
// from the router's address, so without this every client is one client to whatever tells clients apart (the
// identity check's per-client queue, the logs' remoteAddress). Off by default: trusting the header from anyone
// would let a client name itself whatever it likes.
import { isIP } from 'node:net'

/** proxy-addr's named ranges, which Fastify's trustProxy accepts beside addresses and CIDR ranges. */
const NAMED = ['loopback', 'linklocal', 'uniquelocal']

type Fail = (message: string) => Error

/** The trusted addresses, ranges and named ranges; an empty list trusts nobody. */
export function trustedProxies (raw: string, fail: Fail): string[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const item of items) {
    if (!NAMED.includes(item) && !isAddressOrRange(item)) {
      throw fail(`TRUST_PROXY: expected addresses or CIDR ranges of the router (or ${NAMED.join(', ')}), comma-separated, got '${item}'`)
    }
  }
  return items
}

function isAddressOrRange (item: string): boolean {
  const [address, bits, ...rest] = item.split('/')
  const family = isIP(address!)
  if (family === 0 || rest.length > 0) return false
  if (bits === undefined) return true
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}
