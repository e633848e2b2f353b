/**
 * Links kept between armings, for the life of this process. Arming then is map writes: a kept
 * link's program is a no-op whenever nothing is armed (fl_state and fl_net_state are zero, and
 * fl_targets is empty), so no fault can fire outside a window. Every kept link is a bpf_link
 * owned by an fd of this process: the kernel drops it when the process dies, even by SIGKILL.
 *
 * Only links whose idle cost falls on nobody else are kept: tracepoints (one failed lookup per
 * fork/exec/exit), cgroup hooks on this process's own target cgroup (engine/target-cgroup.ts),
 * and tcx links (an idle TC program returns after one array lookup per packet). Cgroup hooks on
 * the cgroup v2 root (scope 'system', or the fallback where cgroupfs is read-only) and cls_bpf
 * filters are attached per arming, as before.
 */
import createDebug from 'debug'
import type { Link } from '../libbpf/index.js'

const debug = createDebug('faultline:engine')
const kept = new Map<string, Link>()

export function keptLink(key: string): Link | undefined {
  return kept.get(key)
}

export function keepLink(key: string, link: Link): void {
  kept.set(key, link)
}

/** Destroys a kept link (a failed arming removing what it made). */
export function dropKeptLink(key: string): void {
  kept.get(key)?.destroy()
  kept.delete(key)
}

/** Destroys the kept links whose key starts with `prefix`; returns how many. */
export function dropKeptLinks(prefix: string): number {
  let n = 0
  for (const key of [...kept.keys()].filter((k) => k.startsWith(prefix))) {
    dropKeptLink(key)
    n++
  }
  return n
}

/** Destroys every kept link: the next arming attaches afresh (tests, and `releaseKeptLinks()`). */
export function releaseKeptLinks(): number {
  const n = kept.size
  for (const l of [...kept.values()].reverse()) l.destroy()
  kept.clear()
  if (n) debug('released %d kept link(s)', n)
  return n
}

/** How many links are kept (for debug logs and tests). */
export function keptLinkCount(): number {
  return kept.size
}
