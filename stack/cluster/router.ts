// The router: nginx (Debian's package) run from compose's own routing file, deploy/nginx.conf, so local and compose
// routing cannot drift. Only addresses change: each `server <service>:<port> resolve;` becomes one line per local
// replica of that role, `listen 8080;` the router's port on 127.0.0.1, and Docker's resolver line goes.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Replica, Role } from './plan.js'

/** deploy/nginx.conf with the addresses of this cluster. Throws when the file no longer has the lines it rewrites. */
export function routerConfig (composeConf: string, routerPort: number, replicas: Replica[]): string {
  let upstreams = 0
  const conf = composeConf
    .replace(/^\s*resolver\s[^;]*;\s*$/m, '')
    .replace(/^(\s*)server (\w+):\d+ resolve;$/gm, (_line, indent: string, service: string) => {
      upstreams++
      const mine = replicas.filter((r) => r.role === service as Role)
      if (mine.length === 0) throw new Error(`the router needs at least one ${service} replica`)
      return mine.map((r) => `${indent}server 127.0.0.1:${r.port};`).join('\n')
    })
    .replace(/^(\s*)listen 8080;$/m, (_line, indent: string) => `${indent}listen 127.0.0.1:${routerPort};`)
  if (upstreams === 0 || !conf.includes(`listen 127.0.0.1:${routerPort};`)) {
    throw new Error('deploy/nginx.conf: expected `server <service>:<port> resolve;` upstream lines and `listen 8080;`')
  }
  return conf
}

/** The nginx main file around it: everything nginx writes (pid, logs, temp files) stays in the cluster's folder. */
function mainConfig (dir: string): string {
  return [
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/router.log warn;`,
    'worker_processes 1;',
    'events { worker_connections 1024; }',
    'http {',
    `  access_log ${dir}/router-access.log;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`),
    `  include ${dir}/postboard.conf;`,
    '}',
    ''
  ].join('\n')
}

export interface Router { pidFile: string, start: () => void, stop: () => void }

export function router (root: string, dir: string, routerPort: number, replicas: Replica[]): Router {
  const pidFile = join(dir, 'nginx.pid')
  const main = join(dir, 'nginx.conf')
  const nginx = (...args: string[]): void => {
    try {
      execFileSync('nginx', ['-p', dir, '-c', main, ...args], { stdio: 'pipe' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('nginx is not installed: apt-get install nginx-light (Debian\'s package)')
      throw new Error(`nginx ${args.join(' ')}: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`)
    }
  }
  return {
    pidFile,
    start () {
      mkdirSync(join(dir, 'tmp'), { recursive: true })
      writeFileSync(join(dir, 'postboard.conf'), routerConfig(readFileSync(join(root, 'deploy/nginx.conf'), 'utf8'), routerPort, replicas))
      writeFileSync(main, mainConfig(dir))
      nginx('-t', '-q')
      // Running: reload the new replica list in place (no dropped connections). Else start it.
      if (existsSync(pidFile) && alive(Number(readFileSync(pidFile, 'utf8')))) nginx('-s', 'reload')
      else nginx()
    },
    stop () {
      if (existsSync(pidFile) && alive(Number(readFileSync(pidFile, 'utf8')))) nginx('-s', 'quit')
    }
  }
}

/** Whether a process runs. A killed replica whose parent (the `up` that started it) is gone may linger as a zombie
 * until something reaps it: that counts as not running. */
export function alive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}
