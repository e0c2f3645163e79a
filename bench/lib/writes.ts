// The write rows against the naive peer (bench/peer-server.ts): its own copy of the posts, servers behind the same
// router compose uses (deploy/nginx.conf, rendered by the cluster's router code), and the likes each side loses when
// many land on one post at once.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { loadConfig } from '../../src/shared/config.js'
import { router } from '../../stack/cluster/router.js'
import type { Replica, Role } from '../../stack/cluster/plan.js'
import { ROOT, startServer, type Server } from './processes.js'

export const PEER_DATABASE = 'pbbench_peer'

/** The peer's environment: its own database and topic on the same stack. */
export function peerEnv (): Record<string, string> {
  return { PEER_DATABASE, PEER_TOPIC: 'pbbench.peer.events' }
}

export async function startPeer (): Promise<Server> {
  return await startServer(['--import', 'tsx', 'bench/peer-server.ts'], peerEnv())
}

/** Copies postboard's posts (same ids, same bytes) into the peer's database, replacing what it held. */
export async function copyPostsToPeer (env: Record<string, string>): Promise<void> {
  const config = loadConfig({}, env)
  const mongo = new MongoClient(config.mongoUrl)
  try {
    const peer = mongo.db(PEER_DATABASE)
    await peer.dropDatabase()
    const docs = await mongo.db(config.mongoDatabase).collection('posts').find({}, { projection: { pending: 0, pending_since: 0 } }).toArray()
    if (docs.length > 0) await peer.collection('posts').insertMany(docs)
  } finally {
    await mongo.close()
  }
}

/** A router on `port` in front of these servers' write routes (and a read upstream, which the file requires). */
export function routeTo (name: string, port: number, writes: Server[], read: Server): { url: string, stop: () => void } {
  const dir = join(ROOT, '.stack', 'bench', name)
  mkdirSync(dir, { recursive: true })
  const replica = (role: Role, s: Server, n: number): Replica => ({ name: `${role}.${n}`, role, n, port: Number(new URL(s.url).port) })
  const r = router(ROOT, dir, port, [replica('read', read, 1), ...writes.map((s, i) => replica('write', s, i + 1))])
  r.start()
  return { url: `http://127.0.0.1:${port}`, stop: () => { r.stop() } }
}

export interface Losses { sent: number, acknowledged: number, stored: number, lost: number }

/**
 * Sends `count` likes of one post at once through `url` and compares what was acknowledged with what the database
 * stored: the likes a server acknowledged and then lost.
 */
export async function lostLikes (url: string, database: string, postId: number, count: number): Promise<Losses> {
  const mongo = new MongoClient(loadConfig({}, {}).mongoUrl)
  try {
    const posts = mongo.db(database).collection<{ _id: number, like_count: number }>('posts')
    const before = (await posts.findOne({ _id: postId }))?.like_count ?? 0
    const answers = await Promise.all(Array.from({ length: count }, async () =>
      await fetch(`${url}/post_server/posts/${postId}/like`, { method: 'POST' }).then((r) => r.status, () => 0)))
    const acknowledged = answers.filter((s) => s === 200).length
    const stored = ((await posts.findOne({ _id: postId }))?.like_count ?? 0) - before
    return { sent: count, acknowledged, stored, lost: acknowledged - stored }
  } finally {
    await mongo.close()
  }
}
