// Times one dependency call into a latency histogram labelled by operation, whether it succeeds or fails.
import type { FastHistogram } from './fast-metrics.js'

export async function timed<T> (histogram: FastHistogram<'op'>, op: string, fn: () => Promise<T>): Promise<T> {
  const end = histogram.startTimer({ op })
  try {
    return await fn()
  } finally {
    end()
  }
}
