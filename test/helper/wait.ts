// Waiting: the one polling helper (a deadline, and a failure that names what it waited for) and a plain sleep.

/**
 * Polls fn until it returns something other than undefined or false, and returns that; fails after timeoutMs naming
 * what it waited for (and the last error fn threw, if any: an error counts as "not yet", so a store that is coming
 * back can be polled through its outage).
 */
export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? ` (last error: ${String(last)})` : ''}`)
    await sleep(intervalMs)
  }
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
