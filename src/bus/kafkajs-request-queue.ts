// A fix applied to kafkajs 2.2.4, its last release (the project is unmaintained: the fixes below have waited as open
// pull requests since 2025). After every answered request, each broker connection re-arms a timer to look at its
// queue of throttled requests, even when that queue is empty and nothing is throttled, with a delay that is then
// negative: so every connection wakes every millisecond for as long as it lives (tulios/kafkajs#1704), and on
// Node.js 24 the first of those timers prints a TimeoutNegativeWarning to stderr (tulios/kafkajs#1751). This is the
// reviewed variant of tulios/kafkajs#1768: no timer while nothing waits and no throttle is in force. A request that
// has to wait (throttled, or too many in flight) still arms one when it is queued, and every answer looks at the
// queue again, as before.
import { createRequire } from 'node:module'

/** What the fix touches of kafkajs's internal RequestQueue (src/network/requestQueue/index.js). */
interface RequestQueue {
  throttledUntil: number
  throttleCheckTimeoutId: NodeJS.Timeout | null
  pending: unknown[]
  checkPendingRequests: () => void
  scheduleCheckPendingRequests: () => void
}

/** kafkajs's own interval for re-checking a queue whose requests wait on in-flight ones. */
const CHECK_PENDING_REQUESTS_INTERVAL = 10

const require = createRequire(import.meta.url)
const { prototype } = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue }

prototype.scheduleCheckPendingRequests = function (this: RequestQueue): void {
  if (this.throttleCheckTimeoutId !== null) return
  const throttledFor = this.throttledUntil - Date.now()
  if (this.pending.length === 0 && throttledFor <= 0) return
  const delay = this.pending.length > 0 && throttledFor <= 0 ? CHECK_PENDING_REQUESTS_INTERVAL : throttledFor
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null
    this.checkPendingRequests()
  }, delay)
}
