/**
 * Links kept between armings, for the life of this process: an opt-in (FAULTLINE_KEEP_LINKS=on,
 * or the adapters' `keepLinks` option). By default every window attaches what its config needs
 * and disarm destroys it, so between windows nothing of faultline is attached.
 *
 * What keeping costs others: an attached cgroup socket program, on whatever cgroup, turns on
 * that hook's static key for the whole machine, so every connect()/sendmsg() of every process
 * enters the cgroup BPF code (measured: a bystander's UDP connect() 1.3-1.4x slower between
 * tests); kept tracepoints run a lookup per fork/exec/exit on the machine, kept tcx programs
 * one per packet on their interfaces. What it buys: arming is mostly map writes.
 *
 * A kept link's program is a no-op whenever nothing is armed (fl_state and fl_net_state are
 * zero, fl_targets is empty). Only tracepoints, cgroup hooks on this process's own target cgroup
 * (engine/target-cgroup.ts) and tcx links are kept; hooks on the cgroup v2 root and cls_bpf
 * filters are attached per arming in either mode. Every kept link is a bpf_link owned by an fd
 * of this process: the kernel drops it when the process dies, even by SIGKILL.
 */
import createDebug from 'debug'
import type { Link } from '../libbpf/index.js'

const debug = createDebug('faultline:engine')
const kept = new Map<string, Link>()

/** Whether links are kept between armings: FAULTLINE_KEEP_LINKS=on (1, true, yes); off by default. */
export function keepLinksEnabled(): boolean {
  return /^(on|1|true|yes)$/i.test(process.env.FAULTLINE_KEEP_LINKS ?? '')
}

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
