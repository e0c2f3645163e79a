// Starts benchmark servers as child processes (so autocannon and the server do not share an event loop) and waits
// for the port they print or log; every child is killed when the run ends, even on failure.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const children = new Set<ChildProcess>()

process.on('exit', () => { for (const c of children) c.kill('SIGKILL') })

export interface Server { url: string, pid: number, stop: () => Promise<void> }

/**
 * Starts `node args...`; the server is up when it prints `listening <port>` (the ceiling) or, given `port`, when its
 * /health/live answers there (postboard, whatever its log level).
 */
export async function startServer (args: string[], env: Record<string, string>, port?: number): Promise<Server> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60s: ${args.join(' ')}\n${out}`)), 60_000)
    const onData = (d: Buffer): void => {
      out = (out + d.toString()).slice(-20_000)
      const m = /listening (\d+)|Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(`http://127.0.0.1:${m[1] ?? m[2] ?? ''}`)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${String(code)}: ${out}`)) })
    if (port !== undefined) {
      const poll = (): void => {
        fetch(`http://127.0.0.1:${port}/health/live`).then((res) => {
          if (res.ok) { clearTimeout(timer); resolve(`http://127.0.0.1:${port}`) } else setTimeout(poll, 200)
        }, () => { if (child.exitCode === null) setTimeout(poll, 200) })
      }
      poll()
    }
  })
  // Keep draining the pipes so a chatty server never blocks on a full buffer.
  child.stdout?.removeAllListeners('data')
  child.stderr?.removeAllListeners('data')
  child.stdout?.resume()
  child.stderr?.resume()
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      children.delete(child)
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      child.kill('SIGKILL')
    }
  }
}
