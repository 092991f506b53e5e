// Patches postgres.js 3.4.9 (run by `npm install`/`npm ci` as the root `postinstall`; idempotent).
//
// Why: when a database connection closes while a small write is queued, postgres.js 3.4.9
// (1) calls `socket.write` on a null socket from a `setImmediate`, an uncaught TypeError
//     that kills the whole process, and
// (2) leaves `nextWriteTimer` set after teardown, so that connection never flushes again:
//     its next startup message is never sent and every query on it hangs.
// Both break "database down → fast 503, recovers by itself" (test/central/database-outage.test.ts
// reproduces them). Upstream: https://github.com/porsager/postgres/issues/1154,
// https://github.com/porsager/postgres/issues/1208 (fix proposed in PRs #1168/#1209, unreleased).
// Remove this script once a postgres release contains the fix.
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const MARKER = '/* portcullis: null-socket guard */'
const require = createRequire(import.meta.url)
// `postgres/package.json` is not exported; the CommonJS entry is cjs/src/index.js.
const root = join(dirname(require.resolve('postgres')), '..', '..')
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

const edits = [
  {
    // (1) Settle instead of throwing: reject the waiting query with a catchable CONNECTION_CLOSED.
    from: '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)',
    to:
      `  function nextWrite(fn) {\n    if (!socket) { ${MARKER}\n` +
      '      nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n' +
      '      chunk = nextWriteTimer = null\n' +
      "      error(Errors.connection('CONNECTION_CLOSED', options))\n" +
      '      return false\n' +
      '    }\n' +
      '    const x = socket.write(chunk, fn)',
  },
  {
    // (2) Teardown forgets the timer and the bytes meant for the dead socket (terminate, closed).
    from: '    clearImmediate(nextWriteTimer)\n',
    to: `    clearImmediate(nextWriteTimer), nextWriteTimer = null, chunk = null ${MARKER}\n`,
    all: true,
  },
]

let patched = 0
for (const dir of ['src', 'cjs/src', 'cf/src']) {
  const file = join(root, dir, 'connection.js')
  if (!existsSync(file)) continue
  let text = readFileSync(file, 'utf8')
  if (text.includes(MARKER)) continue
  for (const edit of edits) {
    if (!text.includes(edit.from)) {
      throw new Error(`postgres ${version}: ${dir}/connection.js no longer matches the patch; check whether upstream fixed it`)
    }
    text = edit.all ? text.split(edit.from).join(edit.to) : text.replace(edit.from, edit.to)
  }
  writeFileSync(file, text)
  patched++
}
if (patched) console.log(`patched postgres ${version} connection.js (${patched} builds): null-socket guard`)
