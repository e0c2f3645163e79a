// One page of the newest-first post list: ids from the Redis index, entities from the read-through cache. A cold
// index or an unreachable Redis answers the page from MongoDB instead, with the same keyset cursor; concurrent
// requests for the same page then share one MongoDB query. The page is JSON text assembled from the entities' cached
// texts (entity-json.ts): nothing is parsed or serialized on a warm page.
import type { Db } from 'mongodb'
import { encodeCursor } from '../shared/cursor.js'
import type { Post } from '../shared/schemas.js'
import { pageJson, postJson } from '../cache/entity-json.js'
import { listPosts } from '../store/posts.js'
import type { IndexPage, PostIndex } from './post-index.js'
import type { ReadMetrics, ReadThrough } from './read-through.js'
import { SingleFlight } from '../shared/single-flight.js'
import { timed } from '../shared/timed.js'

export class PostList {
  private readonly fallback = new SingleFlight<string, Post[]>()

  constructor (private readonly index: PostIndex, private readonly posts: ReadThrough<Post>, private readonly db: Db,
    private readonly metrics: ReadMetrics) {}

  /** The page body: `limit` posts with ids below `before`, newest first; next_cursor only when more exist. */
  async pageJson (limit: number, before?: number): Promise<string> {
    // One id beyond the page tells whether a next page exists without a second query.
    const { cacheLookups, mongoDuration, singleFlightJoins } = this.metrics
    let page: IndexPage | null
    try {
      page = await this.index.page(limit + 1, before)
      cacheLookups.inc({ entity: 'post_list', result: page === null ? 'miss' : page.near ? 'near_hit' : 'hit' })
    } catch {
      cacheLookups.inc({ entity: 'post_list', result: 'error' })
      page = null
    }
    if (page === null) {
      const rows = await this.fallback.do(`${limit}:${before ?? ''}`,
        async () => await timed(mongoDuration, 'list_posts', async () => await listPosts(this.db, limit + 1, before)),
        () => singleFlightJoins.inc({ entity: 'post_list' }))
      return pageOf(rows.slice(0, limit).map(postJson), rows.length > limit, rows[limit - 1]?.post_id)
    }
    const pageIds = page.ids.slice(0, limit)
    const items = (await this.posts.getManyJson(pageIds)).filter((p): p is string => p !== null)
    return pageOf(items, page.ids.length > limit, pageIds.at(-1))
  }

  /** Settles when no fallback query runs in this process; for shutdown. */
  async idle (): Promise<void> {
    await this.fallback.idle()
  }
}

function pageOf (items: string[], more: boolean, lastId: number | undefined): string {
  // The cursor is the last id looked at, not the last item shown, so a skipped id can never repeat on the next page.
  return pageJson(items, more && lastId !== undefined ? encodeCursor(lastId) : undefined)
}
