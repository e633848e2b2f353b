/** The handle a callback receives: counters per rule, live while armed, frozen at disarm. */
import type { Mechanism } from '../kernel/mechanisms.js'
import type { RuleCounters } from './layout.js'

export interface RuleStats extends RuleCounters {
  syscall: string
  mechanism: Mechanism
}

export interface FaultsHandle {
  /** How many times the rule's fault was injected so far. Throws on an unknown rule name. */
  fired(rule: string): number
  /** Per rule: calls seen, matched by the filter, eligible (past `after`), and fired. */
  stats(): Record<string, RuleStats>
  /** The rule names of the armed config, in config order. */
  readonly rules: readonly string[]
  /** Advice from validation (e.g. a rule that can break the test runner's own IPC). */
  readonly warnings: readonly string[]
  /** Pids currently in the target set (the kernel's view). Empty after disarm. */
  targets(): number[]
}

export interface HandleSource {
  rules: readonly { name: string; syscall: string; mechanism: Mechanism }[]
  warnings: readonly string[]
  readCounters(index: number): RuleCounters
  readTargets(): number[]
}

export function createHandle(src: HandleSource): FaultsHandle & { freeze(): void } {
  let frozen: Record<string, RuleStats> | undefined
  const names = src.rules.map((r) => r.name)
  const live = (): Record<string, RuleStats> =>
    Object.fromEntries(
      src.rules.map((r, i) => [r.name, { syscall: r.syscall, mechanism: r.mechanism, ...src.readCounters(i) }]),
    )
  return {
    rules: names,
    warnings: src.warnings,
    stats: () => frozen ?? live(),
    fired(rule) {
      const i = names.indexOf(rule)
      if (i < 0) throw new Error(`faults.fired(${JSON.stringify(rule)}): no such rule; rules are: ${names.join(', ') || '(none)'}`)
      return frozen ? frozen[rule]!.fired : src.readCounters(i).fired
    },
    targets: () => (frozen ? [] : src.readTargets()),
    freeze() {
      if (!frozen) frozen = live()
    },
  }
}
