/** A fault backend serves the syscall rules planned onto one mechanism. */
import type { FailureConfig, NormalizedSyscallRule } from '../../config/types.js'
import type { Mechanism } from '../../kernel/mechanisms.js'
import type { Refusal } from '../family.js'
import type { Instance } from '../instance.js'
import type { Transaction } from '../transaction.js'

export interface PlannedRule {
  /** Index in config.syscalls, = index in fl_rules and fl_counters. */
  index: number
  rule: NormalizedSyscallRule
  mechanism: Mechanism
  /** enum fl_op written into fl_rule.op. */
  op: number
}

export interface BackendPlanning {
  refusals: Refusal[]
  warnings: string[]
}

export interface FaultBackend {
  mechanism: Mechanism
  /**
   * Why some of `rules` (those planned onto this mechanism) cannot be served right now, beyond
   * what the kernel supports: a conflict with another rule of the config (`all`) or with another
   * process's attachment. Asked at planning, before anything attaches.
   */
  plan?(rules: PlannedRule[], all: PlannedRule[]): BackendPlanning
  /** Loads what `rules` need (BPF objects; loaded once per process). Nothing attaches. */
  prepare(inst: Instance, rules: PlannedRule[]): void
  /** Writes what `rules` need beyond the shared rule maps (the session writes those), through tx.step. */
  write?(inst: Instance, rules: PlannedRule[], tx: Transaction): void
  /** Attaches what `rules` need, each link through tx.attach. Links are destroyed at disarm. */
  attach(inst: Instance, rules: PlannedRule[], tx: Transaction, config: FailureConfig): void
  /** Undoes what prepare started (helper processes), after every link is destroyed. Never throws. */
  clear?(inst: Instance): void
}
