// What a client can see of an entity's version and ask of it: the strong ETag every entity answer carries, the
// If-None-Match test for a 304, and the Min-Version header that asks a read for at least the version a write answered.
import type { EntityType } from './event.js'
import { BadMinVersion } from './errors.js'

const TAG_LETTER = { post: 'p', user: 'u' } as const satisfies Record<EntityType, string>

/**
 * The strong entity tag of one version of an entity, e.g. `"p42-v7"`. Made from the id and the version MongoDB gave
 * it, so every replica tags the same version alike; one version always has one text (entity-json.ts's canonical form).
 */
export function entityTag (type: EntityType, id: number, version: number): string {
  return `"${TAG_LETTER[type]}${id}-v${version}"`
}

/**
 * Whether an If-None-Match header names `tag`: `*` (any current version), or a list of tags compared weakly, as RFC
 * 9110 asks for If-None-Match (`W/"p42-v7"` names `"p42-v7"` too). Our tags hold no comma, so a list splits on commas.
 */
export function noneMatch (header: string, tag: string): boolean {
  if (header === tag) return true
  for (const part of header.split(',')) {
    const listed = part.trim()
    if (listed === '*' || listed === tag || (listed.startsWith('W/') && listed.slice(2) === tag)) return true
  }
  return false
}

/**
 * The Min-Version header as a version (0 when absent: any version will do). The route schema has already checked it
 * is decimal digits without a leading zero; what a pattern cannot say is the bound of a safe integer.
 */
export function minVersionOf (header: string | undefined): number {
  if (header === undefined) return 0
  const version = Number(header)
  if (!Number.isSafeInteger(version) || version < 1) throw new BadMinVersion()
  return version
}
