/**
 * One arming's kernel steps (attach, map write, tc change), so that a failure anywhere hands
 * back everything made so far: backends attach through `attach()`, which puts the link into
 * the caller-owned `links` before returning, so a backend that throws half-way has not lost any.
 *
 * A link may be kept between armings (`{ keep: key }`, engine/kept-links.ts), when keeping is
 * opted in (keepLinksEnabled): when one is kept under that key already it is reused and no step
 * runs; a link made now is kept and listed in `madeKept`, which a failed arming destroys, so the
 * kernel is left as it was before the arming. Otherwise `keep` is ignored: the link is this
 * arming's, destroyed at disarm.
 *
 * For tests only: FAULTLINE_TEST_FAIL_STEP=k makes the k-th step of each arming throw
 * (InjectedFailure), to check that every failure point rolls back to exactly what was there.
 */
import createDebug from 'debug'
import type { Link } from '../libbpf/index.js'
import { dropKeptLink, keepLink, keepLinksEnabled, keptLink } from './kept-links.js'

const debug = createDebug('faultline:steps')

export class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure'
}

export interface AttachOptions {
  /** Keep the link for the process's life under this key (what program, on what); see kept-links.ts. */
  keep?: string
}

export class Transaction {
  /** Every link attached so far for this arming only, in order; the session destroys them in reverse at disarm. */
  readonly links: Link[] = []
  /** Keys of the kept links this arming made (a failed arming destroys them). */
  readonly madeKept: string[] = []
  private steps = 0
  private readonly failAt = Number(process.env.FAULTLINE_TEST_FAIL_STEP) || 0

  /** Runs one kernel step. */
  step<T>(what: string, fn: () => T): T {
    if (++this.steps === this.failAt) throw new InjectedFailure(`FAULTLINE_TEST_FAIL_STEP=${this.failAt}: failing step ${this.steps} (${what})`)
    if (!debug.enabled) return fn()
    const t0 = performance.now()
    const r = fn()
    debug('%s: %s ms', what, (performance.now() - t0).toFixed(3))
    return r
  }

  /** Attaches one link and keeps it: in `links` (destroyed at disarm), or with `keep` (when opted in), for the process's life. */
  attach(what: string, fn: () => Link, options: AttachOptions = {}): Link {
    const keep = keepLinksEnabled() ? options.keep : undefined
    if (keep) {
      const hit = keptLink(keep)
      if (hit) return hit
    }
    const link = this.step(`attach ${what}`, fn)
    if (keep) {
      keepLink(keep, link)
      this.madeKept.push(keep)
    } else {
      this.links.push(link)
    }
    return link
  }

  /** Undoes a failed arming's links: those of this arming, and the kept ones it made. */
  destroyMade(): void {
    for (const l of [...this.links].reverse()) l.destroy()
    for (const k of [...this.madeKept].reverse()) dropKeptLink(k)
  }

  /** How many steps ran (for debug logs). */
  get count(): number {
    return this.steps
  }
}
