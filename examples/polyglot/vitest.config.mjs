import { defineConfig } from 'vitest/config'
import { faultline } from '@faultline/vitest-plugin'

export default defineConfig({ plugins: [faultline({ onUnsupported: 'skip' })], test: { include: ['*.test.mjs'] } })
