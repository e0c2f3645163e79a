// One supported Node.js LTS major everywhere: the tests' own runtime, package.json's engines, the `node` and
// @types/node dependencies, the Lambda bundle's target, both images; and the executable refuses an older one.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ROOT } from '../helper/index.js'
import { MIN_NODE_MAJOR, unsupportedRuntime } from '../../src/shared/runtime.js'

const major = (range: string): number => Number(/(\d+)/.exec(range)?.[1])

t.test('the same major in every place that names one', async (t) => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string }, devDependencies: Record<string, string>, scripts: Record<string, string>
  }
  t.equal(major(process.version), MIN_NODE_MAJOR, `the tests run on it (${process.execPath} ${process.version})`)
  t.equal(major(pkg.engines.node), MIN_NODE_MAJOR, 'engines')
  t.equal(major(pkg.devDependencies.node!), MIN_NODE_MAJOR, 'the node dependency that npm scripts run on')
  t.equal(major(pkg.devDependencies['@types/node']!), MIN_NODE_MAJOR, '@types/node')
  t.match(pkg.scripts['package:lambda'], new RegExp(`--target=node${MIN_NODE_MAJOR} `), 'the Lambda bundle\'s target')
  for (const file of ['Dockerfile', 'deploy/identity.Dockerfile']) {
    t.match(await readFile(join(ROOT, file), 'utf8'), new RegExp(`^ARG NODE_VERSION=${MIN_NODE_MAJOR}$`, 'm'), file)
  }
})

t.test('an older Node.js is refused with a way out', async (t) => {
  t.equal(unsupportedRuntime(`v${MIN_NODE_MAJOR}.11.0`), null)
  t.equal(unsupportedRuntime('v26.1.0'), null, 'a later major runs')
  const reason = unsupportedRuntime('v20.20.2')
  t.match(reason, /Node\.js v20\.20\.2 is not supported: postboard needs Node\.js 24 or later/)
  t.match(reason, /node_modules\/\.bin\/node/)
})
