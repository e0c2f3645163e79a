// The Node.js major this project runs on (package.json engines). Imported first by the executable, so an unsupported
// runtime is refused before any dependency loads (the AWS SDK warns at every start on older ones).
export const MIN_NODE_MAJOR = 24

/** Why this Node.js cannot run postboard, or null when it can. */
export function unsupportedRuntime (version: string): string | null {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1])
  if (major >= MIN_NODE_MAJOR) return null
  return `Node.js ${version} is not supported: postboard needs Node.js ${MIN_NODE_MAJOR} or later. ` +
    'npm scripts and npx use the project\'s own (node_modules/.bin/node, installed by npm install): ' +
    'run `npm start -- <flags>`, `npx postboard <flags>`, or node_modules/.bin/node dist/src/cli.js'
}

const reason = unsupportedRuntime(process.version)
/* c8 ignore next 4 -- taken only on an older Node.js, which the tests never run on (unsupportedRuntime is tested) */
if (reason !== null) {
  process.stderr.write(`postboard: ${reason}\n`)
  process.exit(2)
}
