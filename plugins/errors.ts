// The one error handler: logs the whole error with its request, answers { statusCode, error, message }, and never
// shows a 5xx's internals. Dependency outages become 503 with a plain message naming what is unavailable.
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import { MongoBulkWriteError, MongoNetworkError, MongoServerError, MongoServerSelectionError, MongoNotConnectedError, MongoTopologyClosedError } from 'mongodb'
import kafkajs from 'kafkajs'
import { isSocketError } from '../src/shared/socket-errors.js'
import { RouteMethods } from '../src/shared/route-methods.js'

/**
 * Server replies that mean "not now" rather than "never": MongoDB's shutdown, failover and host errors (the codes its
 * drivers retry: HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown,
 * ExceededTimeLimit, SocketException, NotWritablePrimary, InterruptedAtShutdown, InterruptedDueToReplStateChange,
 * NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary), and InternalError (1), which a MongoDB-protocol server answers when
 * its own storage failed under it (FerretDB while its PostgreSQL is going away).
 */
const STORE_UNAVAILABLE_CODES = new Set([1, 6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436])

function storeUnavailable (err: unknown): boolean {
  if (err instanceof MongoServerSelectionError || err instanceof MongoNetworkError || err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError || isSocketError(err)) return true
  // A bulk write (insertMany, bulkWrite) whose command got no answer at all: the driver wraps the connection's error
  // (MongoNetworkError "connection … closed") in a MongoBulkWriteError with no code and no write errors, dropping its
  // type. A server that answered would have given a code or a write error.
  if (err instanceof MongoBulkWriteError && err.code === undefined && [err.writeErrors].flat().length === 0) return true
  return err instanceof MongoServerError && (STORE_UNAVAILABLE_CODES.has(Number(err.code)) || err.hasErrorLabel('RetryableWriteError'))
}

function unavailableReason (err: unknown): string | null {
  if (storeUnavailable(err)) return 'the data store is unavailable; try again shortly'
  if (err instanceof kafkajs.KafkaJSError) return 'the event bus is unavailable; try again shortly'
  return null
}

export function errorBody (statusCode: number, message: string): { statusCode: number, error: string, message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

export default fp(async (app) => {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const unavailable = unavailableReason(err)
    let status = unavailable !== null ? 503 : (err.statusCode ?? 500)
    if (status < 400 || status > 599) status = 500
    if (status >= 500) {
      req.log.error({ err }, 'request failed')
    } else {
      req.log.info({ err: { code: err.code, message: err.message } }, 'request rejected')
    }
    // Our own coded errors (src/errors.ts, PB_*) carry messages written for clients, 5xx ones included (the identity
    // validator's 503 says what is unavailable); any other 5xx message may hold internals and is replaced.
    const ours = typeof err.code === 'string' && err.code.startsWith('PB_')
    const message = unavailable ?? (status >= 500 && !ours ? 'something went wrong on our side; it has been logged' : err.message)
    if (status === 503) reply.header('retry-after', '1')
    return reply.code(status).send(errorBody(status, message))
  })

  // A path some route serves, asked with a method none serves there: 405 with Allow. Decided in onRequest, ahead of
  // body parsing, so a method that carries a body (QUERY, PATCH) without a content type gets its 405 too.
  const routes = new RouteMethods()
  app.addHook('onRoute', (route) => { routes.add(route.url, route.method) })
  // A callback hook, not an async one: every request passes through it, and a matched route's costs one call.
  app.addHook('onRequest', (req, reply, done) => {
    const allowed = req.is404 ? routes.allowed(req.url) : []
    if (allowed.length === 0) { done(); return }
    reply.code(405).header('allow', allowed.join(', '))
      .send(errorBody(405, `${req.method} is not allowed on ${req.url.split('?')[0] ?? ''}; allowed: ${allowed.join(', ')}`))
  })

  app.setNotFoundHandler((req, reply) => {
    return reply.code(404).send(errorBody(404, `no route for ${req.method} ${req.url.split('?')[0] ?? ''}`))
  })
}, { name: 'errors' })
