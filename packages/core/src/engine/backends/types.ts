/** A fault backend attaches the programs of one mechanism for the rules planned onto it. */
import type { FailureConfig, NormalizedSyscallRule } from '../../config/types.js'
import type { Link } from '../../libbpf/index.js'
import type { Mechanism } from '../../kernel/mechanisms.js'
import type { Instance } from '../instance.js'

export interface PlannedRule {
  /** Index in config.syscalls, = index in fl_rules and fl_counters. */
  index: number
  rule: NormalizedSyscallRule
  mechanism: Mechanism
  /** enum fl_op written into fl_rule.op. */
  op: number
}

export interface FaultBackend {
  mechanism: Mechanism
  /**
   * Why this mechanism cannot serve the rule right now, beyond what the kernel supports (e.g. a
   * conflicting attachment of another process), or undefined. Asked at planning, before anything attaches.
   */
  refuse?(rule: NormalizedSyscallRule): string | undefined
  /** Attaches what `rules` (all planned onto this mechanism) need. Links are destroyed at disarm. */
  attach(inst: Instance, rules: PlannedRule[], config: FailureConfig): Link[]
}
