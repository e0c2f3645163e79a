// The ETag of an entity version, If-None-Match matching (a list, weak tags, *) and the Min-Version bound a route
// schema's pattern cannot express.
import t from 'tap'
import { entityTag, minVersionOf, noneMatch } from '../../src/shared/conditional.js'

t.test('entityTag: strong, quoted, one per entity version', async (t) => {
  t.equal(entityTag('post', 42, 7), '"p42-v7"')
  t.equal(entityTag('user', 42, 7), '"u42-v7"', 'a user and a post with one id and version differ')
  t.not(entityTag('post', 1, 23), entityTag('post', 12, 3), 'the separator keeps id and version apart')
})

t.test('noneMatch: the tag itself, in a list, weak, or *', async (t) => {
  const tag = '"p42-v7"'
  t.equal(noneMatch(tag, tag), true)
  t.equal(noneMatch('"p42-v6", "p42-v7"', tag), true, 'anywhere in a list')
  t.equal(noneMatch('"p42-v6",W/"p42-v7"', tag), true, 'a weak tag compares weakly, as If-None-Match asks')
  t.equal(noneMatch('*', tag), true, 'any current version')
  t.equal(noneMatch('"p42-v6"', tag), false, 'an older version')
  t.equal(noneMatch('"p42-v70"', tag), false, 'a tag it is a prefix of')
  t.equal(noneMatch('p42-v7', tag), false, 'unquoted is not the tag')
  t.equal(noneMatch('"u42-v7"', tag), false, 'another entity type')
  t.equal(noneMatch('', tag), false)
})

t.test('minVersionOf: absent is 0; the bound of a safe integer is a 400 naming the header', async (t) => {
  t.equal(minVersionOf(undefined), 0)
  t.equal(minVersionOf('1'), 1)
  t.equal(minVersionOf(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER)
  for (const bad of ['9007199254740992', '9999999999999999']) {
    t.throws(() => minVersionOf(bad), { statusCode: 400, code: 'PB_BAD_MIN_VERSION', message: /^headers\/min-version must be <= 9007199254740991$/ }, bad)
  }
  t.throws(() => minVersionOf('0'), { code: 'PB_BAD_MIN_VERSION' }, 'what the schema already refuses is refused here too')
})
