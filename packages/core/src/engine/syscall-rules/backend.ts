/**
 * A backend serves the rules of config.syscalls planned onto one mechanism, the attach route
 * (kernel/mechanisms.ts). A syscall-rule family (syscall-rule-family.ts) is its kind's backends.
 */
import type { FailureConfig } from '../../config/types.js'
import type { Mechanism } from '../../kernel/mechanisms.js'
import type { Refusal, SyscallRuleEntry } from '../family.js'
import type { Instance } from '../instance.js'
import type { Transaction } from '../transaction.js'

/** A rule of config.syscalls (index = index in fl_rules and fl_counters) and the mechanism chosen for it. */
export interface PlannedRule extends SyscallRuleEntry {
  mechanism: Mechanism
}

export interface BackendPlanning {
  refusals: Refusal[]
  warnings: string[]
}

export interface FaultBackend {
  mechanism: Mechanism
  /**
   * Why some of `rules` (those planned onto this mechanism) cannot be served right now, beyond
   * what the kernel supports: a conflict with another rule of the config (`all`: every planned
   * rule of config.syscalls, of every kind) or with another process's attachment. Asked at
   * planning, before anything attaches.
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
