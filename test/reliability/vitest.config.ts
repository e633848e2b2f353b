import { defineConfig } from 'vitest/config'

// The reliability suite (npm run test:reliability): long runs, one file at a time (they measure
// the machine's state and hold the tc lock). FAULTLINE_RELIABILITY_SCALE scales every count
// (1 = the counts of issue 11; CI runs 0.2). Each file writes its figures to
// .test-results/reliability/*.json; scripts/reliability-report.mjs turns them into docs/reliability.md.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/reliability/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
  },
})
