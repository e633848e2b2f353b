import { defineConfig } from 'vitest/config'
import { faultline } from '@faultline/vitest-plugin'

// testTimeout: spawning Python and cc is slow under emulation in the kernel matrix.
export default defineConfig({ plugins: [faultline({ onUnsupported: 'skip' })], test: { include: ['*.test.mjs'], testTimeout: 30_000 } })
