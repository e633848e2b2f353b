/** The handle a callback receives: counters per rule, live while armed, frozen at disarm. */
import type { Mechanism } from '../kernel/mechanisms.js'
import type { NetMechanism } from '../config/network.js'
import type { RuleCounters } from './shared-layout.js'

export interface RuleStats extends RuleCounters {
  /** The syscall, or `net:<action>` for a network rule. */
  syscall: string
  /** The kernel mechanism serving the rule ('tcx' or 'cls-bpf' for network rules). */
  mechanism: Mechanism | NetMechanism
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
  /** Every rule, syscall and network, with how to read its counters. */
  rules: readonly { name: string; syscall: string; mechanism: Mechanism | NetMechanism; read(): RuleCounters }[]
  warnings: readonly string[]
  readTargets(): number[]
}

export function createHandle(src: HandleSource): FaultsHandle & { freeze(): void } {
  let frozen: Record<string, RuleStats> | undefined
  const names = src.rules.map((r) => r.name)
  const live = (): Record<string, RuleStats> =>
    Object.fromEntries(
      src.rules.map((r) => [r.name, { syscall: r.syscall, mechanism: r.mechanism, ...r.read() }]),
    )
  return {
    rules: names,
    warnings: src.warnings,
    stats: () => frozen ?? live(),
    fired(rule) {
      const i = names.indexOf(rule)
      if (i < 0) throw new Error(`faults.fired(${JSON.stringify(rule)}): no such rule; rules are: ${names.join(', ') || '(none)'}`)
      return frozen ? frozen[rule]!.fired : src.rules[i]!.read().fired
    },
    targets: () => (frozen ? [] : src.readTargets()),
    freeze() {
      if (!frozen) frozen = live()
    },
  }
}
