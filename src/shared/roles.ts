// The roles one postboard process can run, parsed from `--role` (a name, a comma list, or `all`).
export const ROLES = ['read', 'write', 'consumer'] as const
export type Role = typeof ROLES[number]

export function parseRoles (value: string): Set<Role> {
  const names = value.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
  if (names.length === 0) throw new Error(`--role: expected read, write, consumer or all, got '${value}'`)
  const roles = new Set<Role>()
  for (const name of names) {
    if (name === 'all') {
      for (const r of ROLES) roles.add(r)
    } else if ((ROLES as readonly string[]).includes(name)) {
      roles.add(name as Role)
    } else {
      throw new Error(`--role: unknown role '${name}' (expected read, write, consumer or all, or a comma list)`)
    }
  }
  return roles
}
