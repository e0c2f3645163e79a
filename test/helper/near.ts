// The read role's near cache in tests: the app's own once its tracking connection is set up, and a wait for Redis's
// invalidation messages to reach it (a change made straight in Redis is heard a moment later, not at once).
import type { FastifyInstance } from 'fastify'
import type { NearCache } from '../../src/cache/near-cache.js'
import { waitFor } from './wait.js'

/** The app's near cache once tracking is set up (asserted); fails if the app runs without one. */
export async function nearOf (t: { ok: (value: unknown, message: string) => void }, app: FastifyInstance): Promise<NearCache> {
  const near = app.nearCache
  if (near === null) throw new Error('near cache is off')
  await waitFor('tracking set up', async () => near.active)
  t.ok(near.active, 'tracking is set up')
  return near
}

/**
 * Waits until the near cache has handled more invalidation messages than `seen` (read before the change), and then
 * none for 100 ms: a change of several keys is heard as several messages, and a page read between the first and the
 * last would be kept, then dropped by the last.
 */
export async function invalidated (near: NearCache, seen: number): Promise<void> {
  await waitFor('an invalidation message', async () => near.invalidations > seen)
  // Polled every 100 ms: quiet once a poll finds the count where the one before left it.
  let last = -1
  await waitFor('the invalidation messages to stop', async () => {
    const quiet = near.invalidations === last
    last = near.invalidations
    return quiet
  }, 20_000, 100)
}
