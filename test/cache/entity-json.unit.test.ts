// The cache text of an entity and the prefix check that lets GET by id send it unparsed: canonical member order
// whatever order the data came in, and every text this code did not write for that very id refused.
import t from 'tap'
import { entityJson, isEntityJson, pageJson, postJson, userJson } from '../../src/cache/entity-json.js'

const post = { post_id: 12, user_id: 3, title: 't', content: 'c', like_count: 1, dislike_count: 0, created_at: '2024-01-01T00:00:00.000Z' }
const user = { user_id: 7, username: 'ada', created_at: '2024-01-01T00:00:07.000Z' }

t.test('entityJson writes the schema order, id first, whatever order the data came in', async (t) => {
  const shuffled = { created_at: post.created_at, like_count: 1, title: 't', dislike_count: 0, content: 'c', user_id: 3, post_id: 12 }
  t.equal(postJson(shuffled), JSON.stringify(post))
  t.equal(entityJson('post', shuffled), JSON.stringify(post))
  t.equal(entityJson('user', { created_at: user.created_at, username: 'ada', user_id: 7 }), JSON.stringify(user))
  t.equal(userJson(user), '{"user_id":7,"username":"ada","created_at":"2024-01-01T00:00:07.000Z"}')
  t.same(JSON.parse(postJson({ ...post, extra: 'x' } as typeof post)), post, 'members outside the schema are dropped')
})

t.test('isEntityJson accepts exactly what entityJson wrote for that id', async (t) => {
  t.equal(isEntityJson('post', 12, postJson(post)), true)
  t.equal(isEntityJson('user', 7, userJson(user)), true)
  t.equal(isEntityJson('post', 1, postJson(post)), false, 'another id that shares its first digits')
  t.equal(isEntityJson('post', 123, postJson(post)), false, 'a longer id')
  t.equal(isEntityJson('user', 12, postJson(post)), false, 'another entity type')
  t.equal(isEntityJson('post', 12, '{not json'), false, 'not an object text')
  t.equal(isEntityJson('post', 12, '{"post_id":12,"title":"cut sho'), false, 'a truncated text')
  t.equal(isEntityJson('post', 12, '{"title":"t","post_id":12}'), false, 'another member order: not written by this code')
  t.equal(isEntityJson('post', 12, ''), false, 'the empty text of a known-absent entry')
})

t.test('pageJson assembles the same text as serializing the page object', async (t) => {
  const other = { ...post, post_id: 11, title: 'quote " and \\ backslash' }
  t.equal(pageJson([postJson(post), postJson(other)], 'MTE'), JSON.stringify({ items: [post, other], next_cursor: 'MTE' }))
  t.equal(pageJson([postJson(post)], undefined), JSON.stringify({ items: [post] }), 'no next_cursor on the last page')
  t.equal(pageJson([], undefined), '{"items":[]}')
})
