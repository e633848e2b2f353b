/** @faultline/core/node-test without the kernel: the shared-process setting and the summary text. */
import { describe, it, expect } from 'vitest'
import { sharedProcessSetting, formatSummary } from '../../packages/core/src/node-test.js'

describe('node-test helper', () => {
  it('finds the isolation=none flag in execArgv or NODE_OPTIONS, in both spellings', () => {
    expect(sharedProcessSetting(['--test', '--test-isolation=none'], '')).toBe('--test-isolation=none')
    expect(sharedProcessSetting(['--test', '--experimental-test-isolation', 'none'], '')).toBe('--experimental-test-isolation=none')
    expect(sharedProcessSetting([], '--max-old-space-size=100 --test-isolation=none')).toBe('--test-isolation=none')
    expect(sharedProcessSetting(['--test', '--test-isolation=process'], '')).toBeUndefined()
    expect(sharedProcessSetting([], '')).toBeUndefined()
  })

  it('summarises fired counts per rule and warns about rules that never fired', () => {
    const stat = (fired: number) => ({ syscall: 'connect', mechanism: 'cgroup', seen: 3, matched: 2, eligible: 2, fired }) as never
    expect(formatSummary([{ test: 'db > down', stats: { a: stat(2), b: stat(0) } }])).toBe(
      "  db > down: a fired 2x (connect via cgroup), b fired 0x (connect via cgroup)\n    warning: rule 'b' never fired: the failure path was never exercised",
    )
    expect(formatSummary([])).toBe('')
  })
})
