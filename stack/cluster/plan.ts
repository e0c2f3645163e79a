// What a local cluster runs: each role's replicas, named <role>.<n>, each on a port of its own derived from the
// router's, with the flags compose.yaml gives each role's command (the write role's --auth-writes), and the replica
// counts compose.yaml gives when the command line gives none.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

export const ROLES = ['read', 'write', 'consumer'] as const
export type Role = typeof ROLES[number]

export interface Replica {
  name: string
  role: Role
  n: number
  port: number
  /** Flags after --role and --port, as compose.yaml's command for the role has them. */
  flags?: string[]
}

/** Replicas of one role at most (each role's ports are a block of this many). */
export const MAX_PER_ROLE = 19
const ROLE_BLOCK: Record<Role, number> = { read: 0, write: 20, consumer: 40 }

/** Replica ports start 100 above the router's: read.1 at router+101, write.1 at +121, consumer.1 at +141. */
export function portOf (routerPort: number, role: Role, n: number): number {
  return routerPort + 100 + ROLE_BLOCK[role] + n
}

export function plan (routerPort: number, counts: Record<Role, number>, flags: Partial<Record<Role, string[]>> = {}): Replica[] {
  return ROLES.flatMap((role) => Array.from({ length: counts[role] }, (_, i) =>
    ({ name: `${role}.${i + 1}`, role, n: i + 1, port: portOf(routerPort, role, i + 1), flags: flags[role] ?? [] })))
}

interface ComposeService { deploy?: { replicas?: number }, command?: string[] | string }

function composeServices (root: string): Record<string, ComposeService> {
  return (parse(readFileSync(join(root, 'compose.yaml'), 'utf8')) as { services: Record<string, ComposeService> }).services
}

/** The replica counts of compose.yaml's services (deploy.replicas, 1 when unset). */
export function composeCounts (root: string): Record<Role, number> {
  const services = composeServices(root)
  const count = (role: Role): number => services[role]?.deploy?.replicas ?? 1
  return { read: count('read'), write: count('write'), consumer: count('consumer') }
}

/** The flags compose.yaml's command gives each role besides its --role (e.g. the write role's --auth-writes). */
export function composeFlags (root: string): Record<Role, string[]> {
  const services = composeServices(root)
  const flags = (role: Role): string[] => {
    const command = services[role]?.command ?? []
    return (Array.isArray(command) ? command : command.split(/\s+/)).filter((arg) => arg !== '' && !arg.startsWith('--role'))
  }
  return { read: flags('read'), write: flags('write'), consumer: flags('consumer') }
}

/** A count from the command line: a whole number within the role's port block. */
export function parseCount (value: string, role: Role, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > MAX_PER_ROLE) {
    throw new Error(`--${role}: expected a whole number from ${min} to ${MAX_PER_ROLE}, got '${value}'`)
  }
  return Number(value)
}

/** The router's port: its replicas take the 160 ports above it. */
export function parsePort (value: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value) || port < 1024 || port > 65535 - 160) throw new Error(`--port: expected a port from 1024 to ${65535 - 160}, got '${value}'`)
  return port
}
