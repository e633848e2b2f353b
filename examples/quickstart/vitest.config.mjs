import { defineConfig } from 'vitest/config'
import { faultline } from '@faultline/vitest-plugin'

// The plugin runs each test file in its own forked process (faultline arms per process) and
// reports every arming of a test, here withFailureConfig's, with how often each rule fired.
export default defineConfig({ plugins: [faultline()], test: { include: ['*.test.mjs'], testTimeout: 30_000 } })
