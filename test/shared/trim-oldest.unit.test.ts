// trimOldest: a bound on an insertion-ordered Map or Set that drops the oldest first, a sixteenth of the bound at once.
import t from 'tap'
import { trimOldest } from '../../src/shared/trim-oldest.js'

t.test('at or under the bound nothing goes', async (t) => {
  const m = new Map([['a', 1], ['b', 2]])
  trimOldest(m, 2)
  t.same([...m.keys()], ['a', 'b'])
})

t.test('a small bound is exact: the oldest go first, the newest stay', async (t) => {
  const s = new Set<string>()
  for (const k of ['a', 'b', 'c', 'd', 'e']) {
    s.add(k)
    trimOldest(s, 3)
  }
  t.same([...s], ['c', 'd', 'e'])
})

t.test('a large bound drops a sixteenth more in one pass, oldest first, and never exceeds the bound', async (t) => {
  const m = new Map<number, number>()
  let largest = 0
  for (let i = 0; i < 5000; i++) {
    m.set(i, i)
    trimOldest(m, 1600)
    largest = Math.max(largest, m.size)
  }
  t.equal(largest, 1600, 'never above the bound')
  t.ok(m.size >= 1500 && m.size <= 1600, `between the bound less a sixteenth and the bound (${m.size})`)
  const keys = [...m.keys()]
  t.same(keys, Array.from({ length: keys.length }, (_, i) => 5000 - keys.length + i), 'the newest entries, in order')
})
