/**
 * Fills fl_targets at arming with the processes that exist already: the caller and its
 * descendants (a server started in beforeAll), or every process with a matching comm for
 * scope 'system'. The kernel does the walk (fl_seed, an iter/task program in process.bpf.c,
 * reading fl_state), in one read() instead of a pass over /proc. The fork tracepoint is
 * attached before this runs, so no fork slips between the two. A caller with no child at all
 * (waitid: ECHILD) writes its own entry instead of walking.
 *
 * Clearing at disarm: a walk of fl_targets visits every bucket (16384: ~0.1 ms), so when the
 * tracepoints added nothing during the window (fl_track_adds is 0), the entries are exactly the
 * seeded ones, deleted by key.
 */
import fs from 'node:fs'
import { attachIter, runIter } from '../libbpf/index.js'
import { getNative } from '../libbpf/native.js'
import type { Instance } from './instance.js'
import { FL_TARGET_FAULT, FL_TARGET_TRACK, SIZEOF, encodeComm, u32Key } from './shared-layout.js'

/** What the seeding needs of the arming (as fl_state holds it). */
export interface SeedContext {
  /** The arming process's global tgid (the fl_targets key). */
  tgid: number
  system: boolean
  excludeRoot: boolean
  commFilter: boolean
  armedNs: bigint
}

/** The key of the kept link of each tracking tracepoint (session.ts attaches them). */
export const trackingLinkKey = (program: string): string => `tracepoint ${program}`

let commFd: number | undefined
let loadavgFd: number | undefined

export interface Seeded {
  /** fl_targets keys (global tgids) of the processes the seeding added. */
  keys: number[]
  /** Their pids as this process sees them (0 where not visible is left out). */
  pids: number[]
}

/** The last pid allocated in this pid namespace (/proc/loadavg's last field): changes with every fork. */
function lastPid(): string {
  loadavgFd ??= fs.openSync('/proc/loadavg', 'r')
  const buf = Buffer.alloc(128)
  const n = fs.readSync(loadavgFd, buf, 0, buf.length, 0)
  return buf.toString('latin1', 0, n).trim().split(/\s+/).pop() ?? ''
}

/** This process's comm (its main thread's), as the kernel has it now. */
function ownComm(): string {
  commFd ??= fs.openSync('/proc/self/comm', 'r')
  const buf = Buffer.alloc(32)
  const n = fs.readSync(commFd, buf, 0, buf.length, 0)
  return buf.toString('latin1', 0, n).replace(/\n$/, '')
}

const P_ALL = 0
const WNOHANG = 1
const WEXITED = 4
const WNOWAIT = 0x01000000
const __WALL = 0x40000000
const ECHILD = 10
const siginfo = Buffer.alloc(128)

/**
 * Whether this process has no child at all, live or unreaped, of any of its threads: waitid()
 * fails with ECHILD then (WNOWAIT: nothing is reaped). fl_seed's descendants all descend from a
 * child (real_parent chains; an orphan is re-parented away, or to this process when it is a
 * subreaper, and then is a child), so with none the walk would find this process alone.
 */
function childless(): boolean {
  const { libc, koffi } = getNative()
  return libc.waitid(P_ALL, 0, siginfo, WEXITED | WNOHANG | WNOWAIT | __WALL) === -1 && koffi.errno() === ECHILD
}

/**
 * This process's own entry, as fl_seed would write it, when it has no child: one syscall instead
 * of a walk of every task. Checked again after the write: a child forked before the entry existed
 * was not tracked, and then the walk runs. Undefined: walk.
 */
function seedAlone(inst: Instance, ctx: SeedContext): Seeded | undefined {
  if (ctx.system || !childless()) return undefined
  const bitsBuf = inst.maps.fl_comms.lookup(encodeComm(ownComm()))
  const bits = bitsBuf ? bitsBuf.readUInt32LE(0) : 0
  let flags = FL_TARGET_TRACK
  if (!ctx.excludeRoot && (!ctx.commFilter || bits)) flags |= FL_TARGET_FAULT
  const t = Buffer.alloc(SIZEOF.fl_target)
  t.writeUInt32LE(flags, 0)
  t.writeUInt32LE(bits, 4)
  t.writeBigUInt64LE(ctx.armedNs, 8)
  t.writeUInt32LE(process.pid, 16) // vpid: process.pid is this process's pid in its namespace (identity.ts checks)
  inst.maps.fl_targets.update(u32Key(ctx.tgid), t)
  return childless() ? { keys: [ctx.tgid], pids: [process.pid] } : undefined
}

export function seedTargets(inst: Instance, ctx: SeedContext): Seeded {
  // The fds the seeding keeps open for the process's life, opened together at its first arming.
  commFd ??= fs.openSync('/proc/self/comm', 'r')
  loadavgFd ??= fs.openSync('/proc/loadavg', 'r')
  const alone = seedAlone(inst, ctx)
  if (alone) return alone
  // The iterator's link is attached to nothing; it is made for the walk and destroyed after it
  // (the iterator fds hold the program), so no faultline link outlives the window.
  const seedLink = attachIter(inst.process.program('fl_seed'))
  const outs: Buffer[] = []
  try {
    const before = lastPid()
    outs.push(runIter(seedLink))
    // A child forked during the pass whose pid wrapped below its parent's can be visited before the
    // parent was added (and the fork tracepoint found no parent): read again when any pid was
    // allocated during the pass.
    if (lastPid() !== before) outs.push(runIter(seedLink))
  } finally {
    seedLink.destroy()
  }
  const seeded: Seeded = { keys: [], pids: [] }
  for (const b of outs) {
    for (let i = 0; i + 8 <= b.length; i += 8) {
      seeded.keys.push(b.readUInt32LE(i))
      const pid = b.readUInt32LE(i + 4)
      if (pid) seeded.pids.push(pid)
    }
  }
  // Its own entry may have been written by seedAlone (a fork raced it): it counts as seeded too.
  if (!seeded.keys.includes(ctx.tgid)) seeded.keys.push(ctx.tgid)
  return seeded
}

/** Zeroes the tracepoints' count of added targets (at arming, before fl_state is armed). */
export function resetTrackAdds(inst: Instance): void {
  inst.process.map('fl_track_adds').update(u32Key(0), Buffer.alloc(8))
}

/** Empties fl_targets: by key when only `seeded` can be there, else by a walk. */
export function clearTargets(inst: Instance, seeded: Seeded | undefined): void {
  const adds = inst.process.map('fl_track_adds').lookup(u32Key(0))
  if (seeded && adds && adds.readBigUInt64LE(0) === 0n) {
    for (const k of seeded.keys) inst.maps.fl_targets.delete(u32Key(k))
  } else {
    inst.maps.fl_targets.clear()
  }
}
