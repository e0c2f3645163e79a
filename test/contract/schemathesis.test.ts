// The API contract as an outsider checks it: schemathesis (pinned, installed by scripts/schemathesis.sh) reads the
// live /docs/json of an app serving every role, behind the real identity validator, and runs every check it has
// (server errors, status codes and bodies and headers against the document, undeclared methods, schema-valid data
// accepted, invalid data refused, stateful sequences). Bounded by --max-examples and a fixed seed, so a run is
// repeatable; SCHEMATHESIS_SEED picks another seed and SCHEMATHESIS_MAX_EXAMPLES a longer run.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { mintToken } from '../../src/identity/token.js'
import { ROOT, build, serve } from '../helper/index.js'

const exec = promisify(execFile)

t.test('schemathesis, every check, against the live document: no failure', async (t) => {
  const app = await build(t, { role: 'all' }, { IDENTITY_MODE: 'lambda' })
  const { base } = await serve(app)
  const token = await mintToken(app.config.token, '1', 600)
  // Its example database and reports go to a directory of its own, not the working tree.
  const work = mkdtempSync(join(tmpdir(), 'pb-schemathesis-'))
  t.teardown(() => { rmSync(work, { recursive: true, force: true }) })

  const args = [
    `${ROOT}/scripts/schemathesis.sh`, '--config-file', `${ROOT}/test/contract/schemathesis.toml`,
    'run', `${base}/docs/json`, '--checks', 'all', '--header', `Authorization: Bearer ${token}`,
    '--max-examples', process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '30', '--seed', process.env.SCHEMATHESIS_SEED ?? '20261129',
    '--workers', '1', '--no-color', '--generation-database', 'none', '--report', 'json', '--report-dir', work
  ]
  const run = await exec('bash', args, { cwd: work, env: process.env, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 })
    .then(({ stdout }) => ({ code: 0, stdout }), (err: { code?: number, stdout?: string, stderr?: string }) =>
      ({ code: err.code ?? -1, stdout: `${err.stdout ?? ''}\n${err.stderr ?? ''}` }))

  const summary = /Test cases:\s*\n\s*(.+)/.exec(run.stdout)?.[1] ?? 'no summary'
  t.comment(`schemathesis: ${summary}`)
  t.equal(run.code, 0, `schemathesis exits 0 (${summary})`, { output: run.code === 0 ? undefined : run.stdout.slice(-8000) })
  t.match(run.stdout, /Selected: 10\/10/, 'every operation of the document was tested')
  t.match(summary, /^\d+ generated, \d+ passed/, 'cases ran, and all passed')
  t.notMatch(run.stdout, /Failures:/, 'no failure listed')
})
