import { defineConfig } from 'vitest/config'
import { faultline } from '@faultline/vitest-plugin'

// onUnsupported: 'skip': the delay test needs netem and the config-file test a kernel that can
// fail openat (fmod_ret, kprobe override or the BPF LSM); elsewhere they are reported as skipped,
// with the reason. service.node.test.mjs is the node:test version, run by `node --test`.
export default defineConfig({
  plugins: [faultline({ onUnsupported: 'skip' })],
  test: { include: ['service.test.mjs'], testTimeout: 60_000 },
})
