// Decorates the validated configuration so every plugin and route reads the same typed settings.
import fp from 'fastify-plugin'
import type { Config } from '../src/shared/config.js'

declare module 'fastify' {
  interface FastifyInstance { config: Config }
}

export default fp<{ config: Config }>(async (app, opts) => {
  app.decorate('config', opts.config)
}, { name: 'config' })
