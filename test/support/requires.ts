/**
 * Kernel-feature tags for tests. `requires('lsm')` returns a skip reason when the running
 * kernel lacks the feature, else undefined; it throws (a ProbeError) when the probe itself failed
 * for another reason (its object file, ENOMEM, tc missing), so the test fails with the cause. Reasons start with "requires <feature>:" — the VM
 * matrix (test/vm) parses that and fails a kernel that should have run the test.
 *
 *   it('fails openat through the BPF LSM', (ctx) => { skipUnless(ctx, 'lsm'); ... })
 *
 * The reason is printed, and kept in the task's meta (`meta.skipReason`), which Vitest's JSON
 * report carries (it drops ctx.skip's note): scripts/summarize.mjs and the VM matrix read it.
 */
import { probeFeature, type Feature, type FeatureResult } from '../../packages/core/src/kernel/index.js'
import { runcUnavailable } from './container.js'

export function requires(...features: Feature[]): string | undefined {
  for (const f of features) {
    const r = checked(f)
    if (!r.available) return `requires ${f}: ${r.reason}`
  }
  return undefined
}

/** Whether the kernel has the feature; throws when its probe failed for another reason (see requires). */
export function has(feature: Feature): boolean {
  return checked(feature).available
}

/** Thrown when a probe failed for a reason other than the kernel's answer: the test needing it fails, it does not skip. */
export class ProbeError extends Error {
  override readonly name = 'ProbeError'
}

/** The feature's probe result; throws when the probe itself failed (object file missing, ENOMEM, tc not found). */
function checked(f: Feature): FeatureResult {
  const r = probeFeature(f)
  if (r.probeError) throw new ProbeError(`cannot tell whether this kernel has ${f}: ${r.reason}`)
  return r
}

interface SkipContext {
  skip(note?: string): void
  task: { meta: object }
}

/** Skips the running test with the reason printed and kept in the report (Vitest's JSON drops ctx.skip's note). */
export function skipBecause(ctx: SkipContext, reason: string): void {
  console.log(`[skip] ${reason}`)
  ;(ctx.task.meta as { skipReason?: string }).skipReason = reason
  ctx.skip(reason)
}

/** Skips the running test unless every feature is there. */
export function skipUnless(ctx: SkipContext, ...features: Feature[]): void {
  const reason = requires(...features)
  if (reason) skipBecause(ctx, reason)
}

/**
 * Skips the running test unless at least one of the features is there; the reason reads
 * "requires one of a|b: ...", which the VM matrix checks like a single feature.
 */
export function skipUnlessAny(ctx: SkipContext, ...features: Feature[]): void {
  const results = features.map(checked)
  if (results.some((r) => r.available)) return
  skipBecause(ctx, `requires one of ${features.join('|')}: ${results.map((r) => `${r.feature}: ${r.reason}`).join('; ')}`)
}

/**
 * Skips the running test unless OCI containers can be run here (runc installed and working, as
 * root): the reason reads "requires runc: ...", a tag the VM matrix checks like a kernel feature.
 */
export function skipUnlessRunc(ctx: SkipContext): void {
  const reason = runcUnavailable()
  if (reason) skipBecause(ctx, `requires runc: ${reason}`)
}
