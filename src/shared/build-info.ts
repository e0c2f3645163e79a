// What this build is: the package version (read from package.json) and the commit it was built from (BUILD_COMMIT,
// set by the image build or CI). Served by the OpenAPI document and by the `pb_build_info` series.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export function packageVersion (): string {
  // Found by walking up: the same code runs from src/shared/ (tsx) and from dist/src/shared/ (the build).
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
    const parent = dirname(dir)
    /* c8 ignore next: the package always has a package.json above this file */
    if (parent === dir) return '0.0.0'
    dir = parent
  }
}
