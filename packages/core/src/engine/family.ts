/**
 * The shape every fault family has, so the session reads: plan all -> prepare all -> write maps
 * -> attach all -> run -> detach all -> clear all. A family is a folder that exports one
 * FaultFamily, listed in families.ts (README.md, "adding a fault kind").
 */
import type { FailureConfig, NormalizedSyscallRule } from '../config/types.js'
import type { Mechanism } from '../kernel/mechanisms.js'
import type { NetMechanism } from '../config/network.js'
import type { Instance } from './instance.js'
import type { RuleCounters } from './shared-layout.js'
import type { Transaction } from './transaction.js'

/** A rule that cannot be served, where it is in the config, and why. */
export interface Refusal {
  path: string
  name: string
  reason: string
}

/** A rule as the handle reports it. */
export interface HandleRule {
  /** Where the rule is in the config, for a rule of config.syscalls (the handle lists those in config order). */
  path?: string
  name: string
  syscall: string
  mechanism: Mechanism | NetMechanism
  read(): RuleCounters
}

/** How one rule will be served, as `faultline validate --kernel` lists it. */
export interface RuleRoute {
  /** Where the rule is in the config, e.g. `syscalls[0]`. */
  path: string
  name: string
  /** What it acts on: the syscall, or `net:<action>`. */
  acts: string
  mechanism: Mechanism | NetMechanism
}

/**
 * A rule of config.syscalls as the shared rule maps (bpf/include/maps.h: fl_rules, fl_counters,
 * fl_globs) hold it, at its index in config.syscalls.
 */
export interface SyscallRuleEntry {
  index: number
  rule: NormalizedSyscallRule
  /** enum fl_op written into fl_rule.op. */
  op: number
}

/** What a family will arm for one config. Nothing reached the kernel yet. */
export interface FamilyPlan {
  /** For the handle, in config order. */
  readonly rules: HandleRule[]
  /** For `validate --kernel`, in config order. */
  readonly routes: RuleRoute[]
  /** Said to the user through the handle (e.g. a safety check that could not run). */
  readonly warnings: string[]
  /**
   * Everything that spawns helper processes, resolves host names, loads objects or changes tc
   * state: runs before any fault is live, so no rule can break it. What it made, clear() removes,
   * also when prepare itself threw half-way.
   */
  prepare(tx: Transaction): void
  /**
   * Optional, for a family whose rules are rules of config.syscalls: its entries of the shared
   * rule maps. The session writes every family's at once (syscall-rules/syscall-rule-maps.ts),
   * in its step that writes fl_state, and zeroes them at disarm.
   */
  readonly syscallRules?: readonly SyscallRuleEntry[]
  /** Writes this family's maps (inert until attach); `armedNs` (CLOCK_MONOTONIC) is when `when.after` starts. */
  write(tx: Transaction, armedNs: bigint): void
  /** Attaches the links, each through tx.attach, so the caller holds them even if this throws. */
  attach(tx: Transaction): void
  /**
   * Optional: makes this family's faults inert at once at disarm (e.g. zeroes its state map),
   * before its counters are read, since links kept between armings (Transaction.attach's `keep`)
   * stay attached. Counters must stay readable. Never throws.
   */
  stop?(): void
  /**
   * Undoes prepare and write, after every link is destroyed and fl_state
   * is zeroed (helpers may run again). Idempotent; never throws.
   */
  clear(): void
}

export interface FaultFamily {
  readonly name: string
  /** Chooses how to serve each rule; asks the kernel what it can do, changes nothing. */
  plan(config: FailureConfig, inst: Instance): Refusal[] | FamilyPlan
}
