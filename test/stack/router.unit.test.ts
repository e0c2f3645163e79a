// The cluster's router config is compose's routing file with only the addresses changed: same routes, same retries,
// same headers, so local and compose routing cannot drift.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { composeCounts, plan, portOf } from '../../stack/cluster/plan.js'
import { routerConfig } from '../../stack/cluster/router.js'
import { ROOT } from '../helper/index.js'

const compose = readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8')

t.test('only the upstream servers, the listen address and the resolver change', async (t) => {
  const replicas = plan(18080, { read: 2, write: 3, consumer: 1 })
  const local = routerConfig(compose, 18080, replicas)
  const strip = (s: string): string[] => s.replace(/#.*$/gm, '').split('\n').map((l) => l.trim()).filter((l) => l !== '')
  const kept = strip(compose).filter((l) => !/^(resolver |server \w+:\d+ resolve;|listen 8080;)/.test(l))
  t.same(strip(local).filter((l) => !/^(server 127\.0\.0\.1:\d+;|listen 127\.0\.0\.1:18080;)$/.test(l)), kept, 'every other line as compose has it')
  t.match(local, /upstream read_pool \{[^}]*server 127\.0\.0\.1:18181;\s*server 127\.0\.0\.1:18182;/)
  t.match(local, /upstream write_pool \{[^}]*server 127\.0\.0\.1:18201;\s*server 127\.0\.0\.1:18202;\s*server 127\.0\.0\.1:18203;/)
  t.notMatch(local, /consumer|resolve;|127\.0\.0\.11/, 'consumers take no HTTP traffic; no Docker resolver')
  t.match(local, /location \/get_server\/ \{[^}]*proxy_next_upstream error timeout http_502 http_503;/, 'reads are retried on the other replica')
  t.notMatch(local.slice(local.indexOf('location /post_server/')).split('}')[0]!, /proxy_next_upstream/, 'writes are not')
})

t.test('a router needs a replica behind each pool', async (t) => {
  t.throws(() => routerConfig(compose, 18080, plan(18080, { read: 1, write: 0, consumer: 1 })), /at least one write replica/)
  t.throws(() => routerConfig('server { listen 80; }', 18080, plan(18080, { read: 1, write: 1, consumer: 0 })), /expected/)
})

t.test('ports and default counts', async (t) => {
  t.equal(portOf(8080, 'read', 1), 8181)
  t.equal(portOf(8080, 'write', 1), 8201)
  t.equal(portOf(8080, 'consumer', 2), 8222)
  t.same(composeCounts(ROOT), { read: 2, write: 1, consumer: 2 }, 'compose.yaml\'s replica counts')
})
