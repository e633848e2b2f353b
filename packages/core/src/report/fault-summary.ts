/**
 * The per-test fault summary every adapter prints (the Vitest reporter, the Jest environment,
 * node:test): each armed rule with how often it fired, and a warning for each rule that never
 * fired, since a failure path that never failed proves nothing. One text, written once.
 */
import type { FaultsHandle, RuleStats } from '../engine/handle.js'

/** One armed rule as the summary shows it (also what the Vitest plugin keeps in task.meta). */
export interface RuleFired {
  rule: string
  syscall: string
  mechanism: string
  fired: number
}

/** The rules of one armed window, in config order. */
export function rulesFired(handle: FaultsHandle): RuleFired[] {
  return rulesOfStats(handle.stats())
}

export function rulesOfStats(stats: Record<string, RuleStats>): RuleFired[] {
  return Object.entries(stats).map(([rule, s]) => ({ rule, syscall: s.syscall, mechanism: s.mechanism, fired: s.fired }))
}

/**
 * `<test>: db-down fired 2x (connect via cgroup), ...`, then one warning line per rule that never
 * fired; `failOnUnfired` says in the warning that the test failed for it.
 */
export function formatFaultSummary(test: string, rules: readonly RuleFired[], { failOnUnfired = false } = {}): string[] {
  const lines = [`  ${test}: ${rules.map((r) => `${r.rule} fired ${r.fired}x (${r.syscall} via ${r.mechanism})`).join(', ')}`]
  for (const r of rules.filter((x) => x.fired === 0)) {
    lines.push(`    warning: rule '${r.rule}' never fired: the failure path was never exercised${failOnUnfired ? ' (test failed: failOnUnfired)' : ''}`)
  }
  return lines
}
