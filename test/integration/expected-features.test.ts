/**
 * The kernel has exactly the features its entry in test/vm/kernels.mjs lists (FAULTLINE_KERNEL
 * names it: scripts/test.sh sets "host", the VM matrix each kernel's name). With the skip check
 * (test/vm/skips.mjs: a test skipped for a feature the list names fails the run) this closes
 * the other direction: a feature the list lacks but the kernel has would let a refusal test skip
 * and the feature's tests run unnoticed, so the list would no longer say what is tested where.
 */
import { it, expect } from 'vitest'
import { FEATURES, probeFeature } from '../../packages/core/src/kernel/index.js'
import { KERNELS } from '../vm/kernels.mjs'
import { has, skipBecause } from '../support/requires.js'

it('this kernel has the features its entry in test/vm/kernels.mjs expects, and no others', (ctx) => {
  const kernel = process.env.FAULTLINE_KERNEL
  if (!kernel) return skipBecause(ctx, 'requires kernel-name: FAULTLINE_KERNEL names no entry of test/vm/kernels.mjs (scripts/test.sh and the VM matrix set it)')
  const entry = (KERNELS as Record<string, { expect: string[] }>)[kernel]
  expect(entry, `FAULTLINE_KERNEL=${kernel}`).toBeDefined()
  const expected = FEATURES.filter((f) => entry!.expect.includes(f))
  const actual = FEATURES.filter(has)
  const why = FEATURES.filter((f) => expected.includes(f) !== actual.includes(f)).map((f) => `${f}: ${probeFeature(f).reason}`)
  expect(actual, `${kernel} differs from its list in test/vm/kernels.mjs: ${why.join('; ')}`).toEqual(expected)
})
