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
import type { Instance } from './instance.js'
import { u32Key } from './layout.js'

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

export function seedTargets(inst: Instance): Seeded {
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
