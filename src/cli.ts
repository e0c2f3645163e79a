#!/usr/bin/env node
// The postboard executable: `postboard --role <read|write|consumer|all>` serves; `postboard token` mints a dev token.
// Every setting is validated before anything connects; a bad one exits 2 with one line naming it.
import './shared/runtime.js' // first: refuses an unsupported Node.js before anything else loads
import { Command, InvalidArgumentError } from 'commander'
import { ConfigError, NO_SECRET, loadConfig, type ConfigFlags } from './shared/config.js'
import { mintToken, parseDuration } from './identity/token.js'
import { startServer } from './server.js'

function fail (message: string): never {
  process.stderr.write(`postboard: ${message}\n`)
  process.exit(2)
}

function positiveId (value: string): string {
  if (!/^[1-9]\d{0,15}$/.test(value)) throw new InvalidArgumentError('expected a positive integer user id')
  return value
}

const program = new Command()
  .name('postboard')
  .description('Read-optimized CQRS backend for users and posts')
  .option('-r, --role <roles>', 'read, write, consumer, all, or a comma list (env ROLE)')
  .option('-p, --port <port>', 'port to listen on (env PORT, default 8080)')
  .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
  .option('--cache-update <mode>', 'events or write-through (env CACHE_UPDATE, default events)')
  .option('--write-connections <mode>', 'pooled or per-request (env WRITE_CONNECTIONS, default pooled)')
  .option('--auth-writes', 'require a token on writes too; a post\'s user_id must be the token\'s subject (env AUTH_WRITES)')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(`postboard: ${str.replace(/^error: /, '')}`) })
  .action(async (flags: ConfigFlags) => {
    let config
    try {
      config = loadConfig(flags)
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message)
      throw err
    }
    await startServer(config)
  })

program.command('token')
  .description('mint a development token signed with TOKEN_SECRET; prints only the token')
  .requiredOption('--user <id>', 'the user id the token speaks for (its subject)', positiveId)
  .option('--ttl <duration>', 'lifetime such as 15m, 1h or 7d', '1h')
  .action(async (opts: { user: string, ttl: string }) => {
    let ttl: number
    let config
    try {
      ttl = parseDuration(opts.ttl)
      config = loadConfig({})
    } catch (err) {
      fail((err as Error).message)
    }
    if (config.token.secret === '') fail(`TOKEN_SECRET: ${NO_SECRET}`)
    process.stdout.write(`${await mintToken(config.token, opts.user, ttl)}\n`)
  })

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`postboard: ${(err as Error).message}\n`)
  process.exit(1)
})
