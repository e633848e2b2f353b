/**
 * The shape every fault family has, so the session reads: plan all -> prepare all -> write maps
 * -> attach all -> run -> detach all -> clear all. A family is a folder that exports one
 * FaultFamily, listed in families.ts (README.md, "adding a fault kind").
 */
import type { FailureConfig } from '../config/types.js'
import type { Mechanism } from '../kernel/mechanisms.js'
import type { NetMechanism } from '../config/network.js'
import type { Instance } from './instance.js'
import type { RuleCounters } from './layout.js'
import type { Transaction } from './transaction.js'

/** A rule that cannot be served, where it is in the config, and why. */
export interface Refusal {
  path: string
  name: string
  reason: string
}

/** A rule as the handle reports it. */
export interface HandleRule {
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
 * A family's part of fl_state (bpf/include/faultline.h), the one entry process tracking and every
 * syscall program read first.
 */
export interface RuleMapsState {
  /** fl_state.n_rules: entries [0, n) of fl_rules are live. */
  nRules: number
  /** Some rule matches on a path (FL_STATE_NEED_PATH): the hooks fetch the call's path. */
  needPath: boolean
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
   * Optional, for the family whose rules live in the maps every object shares (bpf/include/maps.h:
   * fl_rules, fl_counters, fl_globs; one family only, indexed from 0): writes its entries and says
   * what fl_state needs. Runs inside the session's step that writes fl_state, before it, so no
   * program sees fl_state count rules that are not written yet.
   */
  writeSharedRules?(): RuleMapsState
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
   * Undoes prepare and write (writeSharedRules too), after every link is destroyed and fl_state
   * is zeroed (helpers may run again). Idempotent; never throws.
   */
  clear(): void
}

export interface FaultFamily {
  readonly name: string
  /** Chooses how to serve each rule; asks the kernel what it can do, changes nothing. */
  plan(config: FailureConfig, inst: Instance): Refusal[] | FamilyPlan
}
