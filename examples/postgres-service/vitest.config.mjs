import { defineConfig } from 'vitest/config'
import { faultline } from '@faultline/vitest-plugin'

// onUnsupported: 'skip': the config-file test needs a kernel that can fail openat (fmod_ret,
// kprobe override or the BPF LSM); elsewhere it is reported as skipped, with the reason.
export default defineConfig({
  plugins: [faultline({ onUnsupported: 'skip' })],
  test: { include: ['*.test.mjs'], testTimeout: 30_000 },
})
