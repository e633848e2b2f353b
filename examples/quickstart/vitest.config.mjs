import { defineConfig } from 'vitest/config'

// faultline arms per process: run each test file in its own forked process.
export default defineConfig({ test: { include: ['*.test.mjs'], pool: 'forks', testTimeout: 30_000 } })
