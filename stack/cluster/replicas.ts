// The replicas' processes: each started detached on its own port (`postboard --role=<role> --port <port> <flags>`), its pid
// and log in the cluster's folder, so any later command (status, kill, start, logs, down) finds it.
import { spawn } from 'node:child_process'
import { existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Replica } from './plan.js'
import { alive } from './router.js'

export type State = 'ready' | 'starting' | 'down'

export class Replicas {
  constructor (private readonly root: string, private readonly dir: string) {}

  pidOf (r: Replica): number | null {
    const file = join(this.dir, `${r.name}.pid`)
    if (!existsSync(file)) return null
    const pid = Number(readFileSync(file, 'utf8'))
    return alive(pid) ? pid : null
  }

  logOf (r: Replica): string {
    return join(this.dir, `${r.name}.log`)
  }

  /** Starts the replica unless it runs already; returns its pid. */
  start (r: Replica): number {
    const running = this.pidOf(r)
    if (running !== null) return running
    const log = openSync(this.logOf(r), 'a')
    const child = spawn(process.execPath, ['dist/src/cli.js', `--role=${r.role}`, '--port', String(r.port), ...(r.flags ?? [])], {
      cwd: this.root,
      // The router runs on loopback: its X-Forwarded-For names the client (docs/operations.md, TRUST_PROXY).
      env: { TRUST_PROXY: 'loopback', ...process.env, POSTBOARD_REPLICA: r.name },
      detached: true,
      stdio: ['ignore', log, log]
    })
    child.unref()
    writeFileSync(join(this.dir, `${r.name}.pid`), String(child.pid))
    return child.pid!
  }

  /** ready: /health/ready answers 200; starting: the process runs but is not ready yet; down: no process. */
  async state (r: Replica): Promise<State> {
    if (this.pidOf(r) === null) return 'down'
    try {
      const res = await fetch(`http://127.0.0.1:${r.port}/health/ready`, { signal: AbortSignal.timeout(2000) })
      return res.status === 200 ? 'ready' : 'starting'
    } catch {
      return 'starting'
    }
  }

  kill (r: Replica, signal: NodeJS.Signals): boolean {
    const pid = this.pidOf(r)
    if (pid === null) return false
    process.kill(pid, signal)
    return true
  }

  /** SIGTERM (a graceful shutdown: the consumer commits and leaves, the relay stops), SIGKILL after 20 s. */
  async stop (r: Replica): Promise<void> {
    if (!this.kill(r, 'SIGTERM')) return
    for (let waited = 0; waited < 20_000 && this.pidOf(r) !== null; waited += 100) await sleep(100)
    this.kill(r, 'SIGKILL')
    rmSync(join(this.dir, `${r.name}.pid`), { force: true })
  }
}
