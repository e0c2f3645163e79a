// The freshness probe's loop, run as a child process of the bench (bench/lib/freshness.ts starts it): in the bench's
// own process its timers and fetches would wait behind autocannon's event loop, and that queueing would be counted
// as the system's lag. Argument: the JSON of ProbeArgs. Sends back the lags (ms) and the counts, then exits.
export interface ProbeArgs {
  url: string
  postIds: number[]
  headers: Record<string, string>
  /** How long samples are recorded. */
  ms: number
  /** Samples taken and dropped before recording starts: a process just started answers its first requests slowly. */
  warmups: number
}

export interface ProbeResult { lags: number[], unseen: number, firstPoll: number }

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** One like, then GET until its acknowledged count shows: the lag in ms (undefined if not within 30 s) and the polls. */
async function sample (args: ProbeArgs): Promise<{ lag?: number, polls: number }> {
  const { url, postIds, headers } = args
  const id = postIds[Math.floor(Math.random() * postIds.length)]!
  const ack = await fetch(`${url}/post_server/posts/${id}/like`, { method: 'POST' })
  if (ack.status !== 200) throw new Error(`like answered ${ack.status}`)
  const wanted = (await ack.json() as { like_count: number }).like_count
  const acked = performance.now()
  let polls = 0
  while (performance.now() - acked < 30_000) {
    polls++
    const got = await (await fetch(`${url}/get_server/posts/${id}`, { headers })).json() as { like_count: number }
    if (got.like_count >= wanted) return { lag: performance.now() - acked, polls }
    await sleep(1)
  }
  return { polls }
}

async function probe (args: ProbeArgs): Promise<ProbeResult> {
  for (let i = 0; i < args.warmups; i++) { await sample(args); await sleep(50) }
  const out: ProbeResult = { lags: [], unseen: 0, firstPoll: 0 }
  const end = Date.now() + args.ms
  while (Date.now() < end) {
    const { lag, polls } = await sample(args)
    // Not visible within 30 s counts against the target (reported), instead of ending the run.
    if (lag === undefined) out.unseen++
    else out.lags.push(lag)
    if (lag !== undefined && polls === 1) out.firstPoll++
    await sleep(50)
  }
  return out
}

const result = await probe(JSON.parse(process.argv[2]!) as ProbeArgs)
process.send!(result, () => process.exit(0))
