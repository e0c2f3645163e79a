// Lint: neostandard (the Fastify ecosystem's style) with its TypeScript rules.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', '.stack/**', 'coverage/**', '.tap/**', 'bench/tmp/**', '.tmp-rel/**'] }),
  {
    rules: {
      // TypeBox's idiom names a schema constant and its Static type the same (`const User` / `type User`).
      '@typescript-eslint/no-redeclare': 'off'
    }
  }
]
