/**
 * One arming's kernel steps (attach, map write, tc change), so that a failure anywhere hands
 * back everything made so far: backends attach through `attach()`, which puts the link into
 * the caller-owned `links` before returning, so a backend that throws half-way has not lost any.
 *
 * For tests only: FAULTLINE_TEST_FAIL_STEP=k makes the k-th step of each arming throw
 * (InjectedFailure), to check that every failure point rolls back to exactly what was there.
 */
import type { Link } from '../libbpf/index.js'

export class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure'
}

export class Transaction {
  /** Every link attached so far, in order; the session destroys them in reverse. */
  readonly links: Link[] = []
  private steps = 0
  private readonly failAt = Number(process.env.FAULTLINE_TEST_FAIL_STEP) || 0

  /** Runs one kernel step. */
  step<T>(what: string, fn: () => T): T {
    if (++this.steps === this.failAt) throw new InjectedFailure(`FAULTLINE_TEST_FAIL_STEP=${this.failAt}: failing step ${this.steps} (${what})`)
    return fn()
  }

  /** Attaches one link and keeps it. */
  attach(what: string, fn: () => Link): Link {
    const link = this.step(`attach ${what}`, fn)
    this.links.push(link)
    return link
  }

  /** How many steps ran (for debug logs). */
  get count(): number {
    return this.steps
  }
}
