import { defineConfig } from 'vitest/config'

/**
 * Runs one fixture file (EXIT_CODE_FIXTURE) with the main suite's global setup, so the child run
 * starts the embedded PostgreSQL exactly as `npm test` does on CI. Used only by
 * test/ci/test-run-exit-code.test.ts.
 */
export default defineConfig({
  test: {
    root: new URL('../../..', import.meta.url).pathname,
    include: [`test/support/exit-code/${process.env.EXIT_CODE_FIXTURE ?? 'none'}.fixture.ts`],
    globalSetup: ['test/support/global-setup.ts'],
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
