import { defineConfig } from 'vitest/config'

/**
 * `npm run test:e2e`: the ops console and federated sign-in through the edge in a real headless
 * Chromium (Debian's `chromium`, driven by playwright-core). Same PostgreSQL harness as the main suite.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // The JSON report is what .ci/run counts for its closing 'N passed, M failed' line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-artifacts/vitest/browser.json' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
