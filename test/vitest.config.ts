import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // The JSON report is what .ci/run counts for its closing 'N passed, M failed' line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-artifacts/vitest/main.json' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: files run in parallel forks, each with its own database.
    pool: 'forks',
  },
})
