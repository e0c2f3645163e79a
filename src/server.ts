// Listens and shuts down gracefully: on SIGINT/SIGTERM (or a fatal error in a background loop, which emits SIGTERM)
// stop accepting, finish in-flight requests, then close every plugin (consumer commits, clients close).
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import type { Config } from './config.js'

export async function startServer (config: Config): Promise<FastifyInstance> {
  const app = await buildApp(config, process.stdout.isTTY ? { logger: { level: config.logLevel, transport: undefined } } : {})
  closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.fatal({ err }, 'fatal error; shutting down')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  await app.listen({ host: config.host, port: config.port })
  app.log.info({ roles: [...config.roles], cacheUpdate: config.cacheUpdate, identity: config.identity.mode }, 'postboard ready')
  return app
}
