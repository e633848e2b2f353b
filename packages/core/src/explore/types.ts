/** The shapes of an exploration: a census of matching calls, then one run per (rule, k). */
import type { FailureConfigInput } from '../config/types.js'

/**
 * How a run with one call failed ended:
 * - handled: exit 0 (or fn resolved);
 * - failed: a non-zero exit (or fn rejected): the code noticed and failed;
 * - crashed: killed by a signal (from a test: the rejection carries a child's `signal`);
 * - hung: past the timeout, killed (or the callback abandoned);
 * - not-reached: the k-th matching call did not happen this time (the census is not deterministic).
 */
export type ExploreOutcome = 'handled' | 'failed' | 'crashed' | 'hung' | 'not-reached'

export interface ExploreRun {
  rule: string
  /** The matching call that was failed (1-based, as `when: { nth }`). */
  nth: number
  /** How many calls the rule failed in this run: 1, or 0 for not-reached. */
  fired: number
  outcome: ExploreOutcome
  exitCode: number | null
  /** The signal's name ('SIGSEGV'), or null. */
  signal: string | null
  ms: number
  /** The config that reproduces this run: the one rule, with `when: { nth }`. */
  config: FailureConfigInput
  /** From exploreFailures: what fn rejected with. */
  error?: unknown
  /** By call site: the site this run's call came from in the census. */
  site?: CallSite
}

/** A distinct user call site of a rule in a census by site (`--by site`). */
export interface CallSite {
  /** 1-based, in order of first appearance among the rule's sites. */
  index: number
  /** How many of the census's calls came from it (only its first is failed). */
  calls: number
  /** Return addresses, as hex: those the stack scan found (innermost first), then the stack the kernel unwound. */
  frames: string[]
}

export interface ExploreReport {
  /** Per rule: how many calls it matched in the census run, where nothing failed. */
  census: Record<string, number>
  runs: ExploreRun[]
  /** Runs left out by maxRuns. */
  skipped: number
  /** 'site': one run per distinct call site (--by site); 'call' (default): one per matching call. */
  by?: 'call' | 'site'
  /** By site: the rules explored by k instead, and why (no stack was logged for their calls). */
  byCall?: Record<string, string>
}

/** The run to make: fail the `nth` matching call of `rule`. */
export interface PlannedRun {
  rule: string
  nth: number
  site?: CallSite
}
