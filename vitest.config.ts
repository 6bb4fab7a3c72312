import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The Temporal SDK's native bridge crashes under worker threads; forks are separate processes.
    pool: 'forks',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.pontoon/**'],
    // One real Temporal dev server for the whole run; every file attaches to it.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: timing-sensitive integration files (heartbeats, kill graces) run one at a time.
    fileParallelism: false,
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.pontoon/test-results.json' },
  },
});
