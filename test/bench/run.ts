/**
 * `npm run bench [section…]`: every section measures portcullis side by side with its baseline
 * in one run and prints ratios. Sections: central, edge, revocation, client-credentials (default:
 * these four), and edge-instructions (only when named).
 *
 * Sections live in their own modules, written by different people at different times. They are
 * imported by a computed URL, so a section whose module does not exist yet is skipped with a
 * line saying so, and `tsc` does not need every module to exist.
 */
import { existsSync } from 'node:fs'

interface Section {
  /** Module next to this file. */
  file: string
  /** The async function it exports, which runs the section and prints its tables. */
  entry: string
}

const sections: Record<string, Section> = {
  central: { file: './central.ts', entry: 'runCentralBench' },
  edge: { file: './edge.ts', entry: 'runEdgeBench' },
  revocation: { file: './revocation.ts', entry: 'runRevocationBench' },
  // Client-credentials tokens/s against oidc-provider's grant (central's machine clients).
  'client-credentials': { file: './client-credentials.ts', entry: 'runClientCredentialsBench' },
  // Opt-in (needs valgrind, takes minutes): only when named.
  'edge-instructions': { file: './edge-instructions.ts', entry: 'runEdgeInstructionsBench' },
}
const OPT_IN = new Set(['edge-instructions'])

const requested = process.argv.slice(2)
const unknown = requested.filter((name) => !(name in sections))
if (unknown.length) {
  console.error(`unknown bench section(s): ${unknown.join(', ')}; choose from ${Object.keys(sections).join(', ')}`)
  process.exit(2)
}

let failed = false
for (const name of requested.length ? requested : Object.keys(sections).filter((name) => !OPT_IN.has(name))) {
  const section = sections[name]!
  const url = new URL(section.file, import.meta.url)
  console.log(`\n=== bench: ${name} ===`)
  if (!existsSync(url)) {
    console.log(`skipped: ${section.file} does not exist yet`)
    continue
  }
  const module = (await import(url.href)) as Record<string, unknown>
  const run = module[section.entry]
  if (typeof run !== 'function') throw new Error(`${section.file} does not export ${section.entry}()`)
  try {
    await (run as () => Promise<void>)()
  } catch (error) {
    // One broken section must not hide the others' numbers; the exit code still says it failed.
    failed = true
    console.error(`bench ${name} FAILED: ${(error as Error).stack ?? String(error)}`)
  }
}
process.exit(failed ? 1 : 0)
