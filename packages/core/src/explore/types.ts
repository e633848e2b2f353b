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
}

export interface ExploreReport {
  /** Per rule: how many calls it matched in the census run, where nothing failed. */
  census: Record<string, number>
  runs: ExploreRun[]
  /** Runs left out by maxRuns. */
  skipped: number
}

/** The run to make: fail the `nth` matching call of `rule`. */
export interface PlannedRun {
  rule: string
  nth: number
}
