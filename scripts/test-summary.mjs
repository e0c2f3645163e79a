// Prints one plain closing line for CI ("N passed, N failed") from tap's per-file results in .tap/test-results:
// each top-level `t.test` counts once. Exits non-zero when no test ran, so an empty run cannot pass as green.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = '.tap/test-results'
let passed = 0
let failed = 0
for (const file of readdirSync(dir, { recursive: true })) {
  if (!String(file).endsWith('.tap')) continue
  for (const line of readFileSync(join(dir, String(file)), 'utf8').split('\n')) {
    if (/^ok \d+/.test(line)) passed++
    else if (/^not ok \d+/.test(line)) failed++
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`)
if (passed + failed === 0) process.exit(1)
