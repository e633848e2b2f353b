/** The one fault summary the adapters print (report/fault-summary.ts). */
import { describe, it, expect } from 'vitest'
import { formatFaultSummary } from '../../packages/core/src/report/fault-summary.js'

const rule = (name: string, fired: number) => ({ rule: name, syscall: 'connect', mechanism: 'cgroup', fired })

describe('formatFaultSummary', () => {
  it('lists each rule with its count, then warns of each rule that never fired', () => {
    expect(formatFaultSummary('db > down', [rule('a', 2), rule('b', 0)])).toEqual([
      '  db > down: a fired 2x (connect via cgroup), b fired 0x (connect via cgroup)',
      "    warning: rule 'b' never fired: the failure path was never exercised",
    ])
  })
  it('says the test failed for it under failOnUnfired, and warns of nothing when every rule fired', () => {
    expect(formatFaultSummary('t', [rule('b', 0)], { failOnUnfired: true })[1]).toMatch(/never exercised \(test failed: failOnUnfired\)$/)
    expect(formatFaultSummary('t', [rule('a', 1)])).toHaveLength(1)
  })
})
