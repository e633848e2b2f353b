/**
 * The shape every fault family has (the syscall mechanisms, the network; later latency, resets,
 * DNS), so the session reads: plan all -> prepare all -> write maps -> attach all -> run -> detach
 * all -> clear all. Adding a family is adding a folder that exports one of these.
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

/** What a family will arm for one config. Nothing reached the kernel yet. */
export interface FamilyPlan {
  /** For the handle, in config order. */
  readonly rules: HandleRule[]
  /** Said to the user through the handle (e.g. a safety check that could not run). */
  readonly warnings: string[]
  /**
   * Everything that spawns helper processes, resolves host names, loads objects or changes tc
   * state: runs before any fault is live, so no rule can break it. What it made, clear() removes,
   * also when prepare itself threw half-way.
   */
  prepare(tx: Transaction): void
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
  /** Undoes prepare and write, after every link is destroyed (helpers may run again). Idempotent; never throws. */
  clear(): void
}

export interface FaultFamily {
  readonly name: string
  /** Chooses how to serve each rule; asks the kernel what it can do, changes nothing. */
  plan(config: FailureConfig, inst: Instance): Refusal[] | FamilyPlan
}
