/**
 * Fills fl_targets at arming with the processes that exist already: the caller and its
 * descendants (a server started in beforeAll), or every process with a matching comm for
 * scope 'system'. The kernel does the walk (fl_seed, an iter/task program in process.bpf.c,
 * reading fl_state), in one read() instead of a pass over /proc. The fork tracepoint is
 * attached before this runs, so no fork slips between the two.
 *
 * Clearing at disarm: a walk of fl_targets visits every bucket (16384: ~0.1 ms), so when the
 * tracepoints added nothing during the window (fl_track_adds is 0), the entries are exactly the
 * seeded ones, deleted by key.
 */
import fs from 'node:fs'
import { attachIter, runIter, type Link } from '../libbpf/index.js'
import { getNative } from '../libbpf/native.js'
import type { Instance } from './instance.js'
import { keptLink } from './kept-links.js'
import { FL_TARGET_FAULT, FL_TARGET_TRACK, SIZEOF, encodeComm, u32Key } from './layout.js'

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

/** Whether the last walk found no process but this one... */
let aloneSinceWalk = false
/** ...through this fork tracepoint link, attached all along (a released one recorded nothing)... */
let forkLinkAtWalk: Link | undefined
/** ...and fl_root_forks as it was right before that walk. */
let forksAtWalk: RootForks | undefined
let commFd: number | undefined

let seedLink: Link | undefined
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

const PR_GET_CHILD_SUBREAPER = 37

/** fl_root_forks (process.bpf.c): this process's forks, and those fl_root_children missed. */
interface RootForks {
  forks: bigint
  lost: bigint
}

/** struct fl_root_forks of process.bpf.c: { u32 root; u32 _pad; u64 forks; u64 lost } (the layout test checks it). */
export const ROOT_FORKS = { size: 24, root: 0, forks: 8, lost: 16 } as const

function rootForks(inst: Instance): RootForks | undefined {
  const v = inst.process.map('fl_root_forks').lookup(u32Key(0))
  if (!v || v.readUInt32LE(ROOT_FORKS.root) === 0) return undefined
  return { forks: v.readBigUInt64LE(ROOT_FORKS.forks), lost: v.readBigUInt64LE(ROOT_FORKS.lost) }
}

/**
 * Whether every child this process forked since the last walk has exited (fl_root_children
 * holds the live ones, by fork number). A subreaper inherits its children's orphans, so there
 * any fork since may have left a descendant.
 */
function noChildSinceWalk(inst: Instance): boolean {
  const now = rootForks(inst)
  if (!now || !forksAtWalk || now.lost !== forksAtWalk.lost) return false
  if (now.forks === forksAtWalk.forks) return true
  const out = Buffer.alloc(4)
  const subreaper = getNative().libc.prctlOut(PR_GET_CHILD_SUBREAPER, out) !== 0 || out.readInt32LE(0) !== 0
  if (subreaper) return false
  const children = inst.process.map('fl_root_children')
  for (const k of children.keys()) {
    const nth = children.lookup(k)
    if (nth && nth.readBigUInt64LE(0) > forksAtWalk.forks) return false
  }
  return true
}

/**
 * This process's own entry, as fl_seed would write it, when it provably has no descendant: the
 * last walk found none and every child forked since has exited. Checked again after the write:
 * a fork before the entry existed was not tracked, and then the walk runs. Undefined: walk.
 */
function seedAlone(inst: Instance, ctx: SeedContext): Seeded | undefined {
  if (ctx.system || !aloneSinceWalk || keptLink(trackingLinkKey('fl_fork')) !== forkLinkAtWalk || !noChildSinceWalk(inst)) return undefined
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
  return noChildSinceWalk(inst) ? { keys: [ctx.tgid], pids: [process.pid] } : undefined
}

export function seedTargets(inst: Instance, ctx: SeedContext): Seeded {
  const alone = seedAlone(inst, ctx)
  if (alone) return alone
  // The fds the seeding keeps open for the process's life, opened together at its first walk.
  commFd ??= fs.openSync('/proc/self/comm', 'r')
  // Record this process's forks from here on (once: the counts are never reset, so no write of
  // ours races a fork's increment): a later arming may then skip the walk.
  if (!rootForks(inst)) {
    const rf = Buffer.alloc(ROOT_FORKS.size)
    rf.writeUInt32LE(ctx.tgid, ROOT_FORKS.root)
    inst.process.map('fl_root_forks').update(u32Key(0), rf)
  }
  const forksBefore = rootForks(inst)
  // The iterator link holds no attachment; keep it for the life of the instance.
  seedLink ??= attachIter(inst.process.program('fl_seed'))
  const before = lastPid()
  const outs = [runIter(seedLink)]
  // A child forked during the pass whose pid wrapped below its parent's can be visited before the
  // parent was added (and the fork tracepoint found no parent): read again when any pid was
  // allocated during the pass.
  if (lastPid() !== before) outs.push(runIter(seedLink))
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
  aloneSinceWalk = !ctx.system && seeded.keys.length === 1
  forkLinkAtWalk = keptLink(trackingLinkKey('fl_fork'))
  forksAtWalk = forksBefore
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
