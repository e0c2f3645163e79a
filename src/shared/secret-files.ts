// Secrets from files, the `*_FILE` convention of container platforms (compose and Kubernetes secrets, Docker swarm):
// NAME_FILE names a file whose content is NAME's value. Read once at boot, before any setting is validated.
import { readFileSync } from 'node:fs'

/** The settings that may come from a file instead of the environment. */
export const SECRET_FILE_SETTINGS = ['TOKEN_SECRET', 'KAFKA_SASL_PASSWORD', 'REDIS_URL', 'MONGODB_URL'] as const

type Env = Record<string, string | undefined>

export interface ResolvedEnv {
  env: Env
  /** How an error names each setting: `REDIS_URL`, or `REDIS_URL (from REDIS_URL_FILE)` when it came from a file. */
  label: (name: string) => string
}

/**
 * The environment with each `NAME_FILE` replaced by NAME read from that file. A file that cannot be read, one that
 * is empty, or NAME set as well (which one would win is a guess) throws, naming the setting. Only the trailing
 * line break an editor or `echo` leaves is dropped; a value is otherwise taken as written.
 */
export function resolveSecretFiles (env: Env, fail: (message: string) => Error): ResolvedEnv {
  const resolved: Env = { ...env }
  const fromFile = new Set<string>()
  for (const name of SECRET_FILE_SETTINGS) {
    const path = env[`${name}_FILE`]
    if (path === undefined || path === '') continue
    if (env[name] !== undefined && env[name] !== '') {
      throw fail(`${name}_FILE: set together with ${name}; give one of the two`)
    }
    let value: string
    try {
      value = readFileSync(path, 'utf8').replace(/\r?\n$/, '')
    } catch (err) {
      throw fail(`${name}_FILE: cannot read ${path} (${String((err as NodeJS.ErrnoException).code)})`)
    }
    if (value.trim() === '') throw fail(`${name}_FILE: ${path} is empty`)
    resolved[name] = value
    fromFile.add(name)
  }
  return { env: resolved, label: (name) => fromFile.has(name) ? `${name} (from ${name}_FILE)` : name }
}
