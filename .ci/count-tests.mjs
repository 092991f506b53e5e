// Prints one line, "N passed, M failed", from vitest's JSON reports (all suites together), and
// exits 1 when any test failed or a suite wrote no report: a signal independent of exit codes.
import { readFileSync } from 'node:fs'

let passed = 0
let failed = 0
let missing = 0
for (const file of process.argv.slice(2)) {
  let report
  try {
    report = JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    missing += 1
    console.error(`no test report at ${file}`)
    continue
  }
  passed += report.numPassedTests
  failed += report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0)
  // A file that failed to load counts no test but is a failure all the same.
  failed += report.testResults.filter((result) => result.status === 'failed' && result.assertionResults.length === 0).length
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 || missing > 0 ? 1 : 0)
