import { defineConfig } from 'vitest/config'

// The project's own suite. Each test file runs in its own forked process: faultline arms per
// process, and BPF state must never be shared between files.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/security/**/*.test.ts'],
    pool: 'forks',
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests load programs into one shared kernel; two cores, so two files at a time.
    maxWorkers: 2,
  },
})
