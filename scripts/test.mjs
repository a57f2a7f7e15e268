// `npm test`: every test of the project, then one line `N passed, N failed` summing them all.
// Runs the static checks (types, lint, bundles in sync with their source; one count each), vitest
// (TypeScript: unit, fakes, bundles, e2e rehearsal) and pytest (the Space server). Each suite prints
// its own output; counts come from machine-readable reports, not from scraping that output. A suite
// that crashes before reporting counts as a failure, so a broken run can never look green.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const reports = mkdtempSync(join(tmpdir(), 'zerollama-test-'))
const bin = (name) => join(root, 'node_modules', '.bin', name)
const python = join(root, '.venv', 'bin', 'python')
/** @type {{ name: string, passed: number, failed: number, skipped: number, seconds: number }[]} */
const results = []

function run(command, args, cwd = root) {
  const started = Date.now()
  const result = spawnSync(command, args, { cwd, stdio: 'inherit', env: process.env })
  if (result.error) console.error(`could not start ${command}: ${result.error.message}`)
  return { status: result.status ?? 1, seconds: (Date.now() - started) / 1000 }
}

function banner(title) {
  console.log(`\n━━ ${title} ${'━'.repeat(Math.max(0, 70 - title.length))}`)
}

function check(name, command, args) {
  banner(name)
  const { status, seconds } = run(command, args)
  results.push({ name, passed: status === 0 ? 1 : 0, failed: status === 0 ? 0 : 1, skipped: 0, seconds })
}

function vitest() {
  banner('vitest')
  const report = join(reports, 'vitest.json')
  const extra = process.argv.slice(2)
  const { status, seconds } = run(bin('vitest'), [
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...extra,
  ])
  const counts = { name: 'vitest', passed: 0, failed: 0, skipped: 0, seconds }
  if (existsSync(report)) {
    const json = JSON.parse(readFileSync(report, 'utf8'))
    counts.passed = json.numPassedTests
    counts.failed = json.numFailedTests
    counts.skipped = json.numPendingTests + json.numTodoTests
    // A file that fails to import has no test results, only a failed status: count it.
    for (const file of json.testResults) {
      if (file.status === 'failed' && !file.assertionResults.some((a) => a.status === 'failed')) {
        console.error(`vitest: ${file.name.slice(root.length + 1)} failed outside any test: ${file.message}`)
        counts.failed++
      }
    }
  }
  if (status !== 0 && counts.failed === 0) {
    console.error(`vitest exited with ${status} without a counted failure; counting the run as failed`)
    counts.failed++
  }
  results.push(counts)
}

function pytest() {
  banner('pytest')
  const counts = { name: 'pytest', passed: 0, failed: 0, skipped: 0, seconds: 0 }
  if (!existsSync(join(root, 'space', 'tests'))) {
    console.log('no space/tests yet')
    results.push(counts)
    return
  }
  const report = join(reports, 'pytest.xml')
  // From space/, as the Space runs it: `python -m` puts space/ on sys.path, so `import zerollama` works.
  const { status, seconds } = run(
    python,
    ['-m', 'pytest', 'tests', '-rfE', `--junitxml=${report}`],
    join(root, 'space'),
  )
  counts.seconds = seconds
  if (existsSync(report)) {
    const xml = readFileSync(report, 'utf8')
    const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? ''
    const attr = (key) => Number(new RegExp(`\\b${key}="(\\d+)"`).exec(suite)?.[1] ?? 0)
    counts.failed = attr('failures') + attr('errors')
    counts.skipped = attr('skipped')
    counts.passed = attr('tests') - counts.failed - counts.skipped
  }
  // 5 is pytest's "no tests collected": reported as zero tests, not as a crash.
  if (status !== 0 && status !== 5 && counts.failed === 0) {
    console.error(`pytest exited with ${status} without a counted failure; counting the run as failed`)
    counts.failed++
  }
  results.push(counts)
}

const onlyVitestFiles = process.argv.length > 2
if (!onlyVitestFiles) {
  check('typecheck', bin('tsc'), ['--noEmit'])
  check('lint', 'npm', ['run', '--silent', 'lint'])
  check('bundles match their source', process.execPath, [join(root, 'scripts', 'build.mjs'), '--check'])
}
vitest()
if (!onlyVitestFiles) pytest()
rmSync(reports, { recursive: true, force: true })

banner('summary')
for (const r of results) {
  const skipped = r.skipped ? `, ${r.skipped} skipped` : ''
  console.log(`${r.name.padEnd(28)} ${r.passed} passed, ${r.failed} failed${skipped}  (${r.seconds.toFixed(1)} s)`)
}
const passed = results.reduce((sum, r) => sum + r.passed, 0)
const failed = results.reduce((sum, r) => sum + r.failed, 0)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)
