// Writes openapi.json: the OpenAPI document of a process serving every role (`npm run openapi`, with the local stack
// up). test/plugins/docs.test.ts checks that the live document still equals it, so a route change that alters the
// contract shows up in review as a change of this file.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/shared/config.js'

const port = (name: string, fallback: number): string => process.env[name] ?? String(fallback)
const config = loadConfig({ role: 'all' }, {
  REDIS_URL: `redis://127.0.0.1:${port('STACK_REDIS_PORT', 6380)}`,
  MONGODB_URL: `mongodb://127.0.0.1:${port('STACK_MONGO_PORT', 27018)}`,
  KAFKA_BROKERS: `127.0.0.1:${port('STACK_KAFKA_PORT', 9092)}`,
  IDENTITY_MODE: 'off',
  LOG_LEVEL: 'silent'
})
const app = await buildApp(config, { logger: false })
await app.ready()
const file = fileURLToPath(new URL('../openapi.json', import.meta.url))
writeFileSync(file, `${JSON.stringify(app.swagger(), null, 2)}\n`)
await app.close()
console.log(`wrote ${file}`)
