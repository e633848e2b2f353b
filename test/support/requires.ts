/**
 * Kernel-feature tags for tests. `requires('lsm')` returns a skip reason when the running
 * kernel lacks the feature, else undefined. Reasons start with "requires <feature>:" — the VM
 * matrix (test/vm) parses that and fails a kernel that should have run the test.
 *
 *   it.skipIf(requires('lsm'))('fails openat through the BPF LSM', ...)   // reason in the title? no:
 *   it('...', (ctx) => { skipUnless(ctx, 'lsm'); ... })                   // reason printed + reported
 */
import { probeFeature, type Feature } from '../../packages/core/src/kernel/index.js'

export function requires(...features: Feature[]): string | undefined {
  for (const f of features) {
    const r = probeFeature(f)
    if (!r.available) return `requires ${f}: ${r.reason}`
  }
  return undefined
}

interface SkipContext {
  skip(note?: string): void
}

/** Skips the running test, with the reason printed and kept in the report, unless every feature is there. */
export function skipUnless(ctx: SkipContext, ...features: Feature[]): void {
  const reason = requires(...features)
  if (reason) {
    console.log(`[skip] ${reason}`)
    ctx.skip(reason)
  }
}
