import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const wrangler = join(repoRoot, 'node_modules/.bin/wrangler')
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' }

describe('wrangler configuration', () => {
  it('builds the edge with `wrangler deploy --dry-run`', async () => {
    const outdir = await mkdtemp(join(tmpdir(), 'portcullis-edge-dry-'))
    try {
      const { stdout } = await run(wrangler, ['deploy', '--dry-run', '--outdir', outdir], { cwd: repoRoot, env })
      expect(stdout).toContain('--dry-run: exiting now.')
      expect(await readFile(join(outdir, 'worker.js'), 'utf8')).toContain('portcullis')
    } finally {
      await rm(outdir, { recursive: true, force: true })
    }
  }, 120_000)

  it('has an up-to-date generated Env (`wrangler types --check`)', async () => {
    const { stdout } = await run(
      wrangler,
      ['types', 'edge/worker-configuration.d.ts', '--include-runtime=false', '--strict-vars=false', '--check'],
      { cwd: repoRoot, env },
    )
    expect(stdout).toMatch(/up to date/)
  }, 120_000)
})
