/**
 * Sweeps what dead faultline processes left in this network namespace: cls_bpf filters, the
 * clsact qdiscs faultline created that are left empty, htb `fa17:` root qdiscs, flifb IFB
 * devices, and their records. Every object carries its owner id (tags.ts), so a sweep judges it
 * by that owner's liveness token even when the owner ran in another pid and mount namespace; a
 * live owner's objects are never touched.
 *
 * Every arming sweeps (engine/session.ts, before any fault is live): the first arming of a process
 * looks at the kernel's whole tc state (over rtnetlink: tcLeftoversLikely); every arming runs a
 * cheap check (the state directory's records and markers, and /proc/net/dev for IFB devices); the
 * sweep runs only when one of them finds a trace of a dead owner.
 */
import fs from 'node:fs'
import createDebug from 'debug'
import { detachClsBpf } from '../../libbpf/index.js'
import { stateDir, stateEntries } from './dir.js'
import { forgetClsact, markedClsacts, releaseClsact } from './clsact.js'
import { ifindexOf, listFilters, listQdiscs, netDevices, quietly, type Qdisc } from './iproute-commands.js'
import { withTcLock } from './lock.js'
import { legacyRecords, ownerAlive, ownerHex, recordedOwners, removeOwnerRecord } from './owner.js'
import { FL_TC_PRIORITY, SHAPING_HANDLE, SHAPING_MAJOR, htbOwner, ifbOwner, isFaultlineIfb, isShapingRoot } from './tags.js'
import { dumpClsactFilters, dumpQdiscs } from './netlink.js'
import path from 'node:path'
import { cgroupDirOf } from '../../kernel/cgroup.js'
import { sweepTargetCgroups } from './cgroups.js'

const debug = createDebug('faultline:state')

export interface Removed {
  /** 'cls_bpf filter' | 'clsact qdisc' | 'htb qdisc' | 'IFB device' | 'record' | 'cgroup'. */
  kind: string
  /** Where: the interface, the record's file name, or the cgroup's directory. */
  where: string
  /** The owner id (hex), or an older faultline version's pid. */
  owner: string
}

export interface SweepReport {
  removed: Removed[]
  /** What could not be looked at or removed (e.g. iproute2 missing); nothing of a live owner is here. */
  errors: string[]
}

const ownerLabel = (id: number): string => (id >= 0x80000000 ? ownerHex(id) : `pid ${id}`)

/** Whether an older version's htb (no owner in `default`) is claimed by a live pid's record. */
function legacyShapingAlive(dev: string, legacy: ReturnType<typeof legacyRecords>): boolean {
  return legacy.some((r) => r.devices.includes(dev) && ownerAlive(r.pid))
}

/**
 * Whether anything of a dead owner may be left, from what costs no helper process: records and
 * clsact markers in the state directory, and the IFB devices in /sys/class/net.
 */
export function leftoversLikely(): boolean {
  const entries = stateEntries()
  if (recordedOwners(entries).some((id) => !ownerAlive(id))) return true
  if (markedClsacts(entries).some((m) => !ownerAlive(m.owner))) return true
  if (legacyRecords(entries).some((r) => !ownerAlive(r.pid))) return true
  return netDevices().some((d) => isFaultlineIfb(d) && !ownerAlive(ifbOwner(d)))
}

/**
 * Whether tc holds anything a dead owner may have left, asked of the kernel over rtnetlink (no
 * helper process): a shaping root (htb `fa17:`, whatever its owner: the sweep judges it), or a
 * bpf filter at faultline's priority on a clsact whose owner is not alive. True when it cannot
 * tell. With leftoversLikely() false too, the full sweep would find nothing to remove.
 */
export function tcLeftoversLikely(): boolean {
  try {
    const qdiscs = dumpQdiscs()
    if (qdiscs.some((q) => q.kind === 'htb' && q.handle >>> 16 === SHAPING_MAJOR)) return true
    for (const q of qdiscs.filter((c) => c.kind === 'clsact')) {
      for (const direction of ['ingress', 'egress'] as const) {
        const filters = dumpClsactFilters(q.ifindex, direction)
        if (filters.some((f) => f.kind === 'bpf' && f.info >>> 16 === FL_TC_PRIORITY && f.handle !== 0 && !ownerAlive(f.handle))) return true
      }
    }
    return false
  } catch (err) {
    debug('tc state over rtnetlink: %s; the full sweep runs', (err as Error).message)
    return true
  }
}

/** Removes everything of dead owners in this network namespace; never touches a live owner's objects. */
export function sweep(): SweepReport {
  const report: SweepReport = { removed: [], errors: [] }
  const removed = (kind: string, where: string, owner: number) => {
    report.removed.push({ kind, where, owner: ownerLabel(owner) })
    debug('swept the %s on %s of dead owner %s', kind, where, ownerLabel(owner))
  }
  withTcLock(() => {
    const legacy = legacyRecords()
    let qdiscs: Qdisc[] = []
    try {
      qdiscs = listQdiscs()
    } catch (err) {
      report.errors.push(`list qdiscs: ${(err as Error).message}`)
    }
    // htb roots first: deleting one also deletes the IFB redirect's target tree.
    for (const q of qdiscs.filter(isShapingRoot)) {
      const owner = htbOwner(q)
      const alive = owner ? ownerAlive(owner) : legacyShapingAlive(q.dev, legacy)
      if (alive) continue
      if (quietly('tc', [`qdisc del dev ${q.dev} root handle ${SHAPING_HANDLE}`])) removed('htb qdisc', q.dev, owner)
      else report.errors.push(`delete the htb qdisc ${SHAPING_HANDLE} of ${q.dev}`)
    }
    for (const dev of netDevices().filter(isFaultlineIfb)) {
      const owner = ifbOwner(dev)
      if (ownerAlive(owner)) continue
      if (quietly('ip', [`link del ${dev}`])) removed('IFB device', dev, owner)
      else report.errors.push(`delete the IFB device ${dev}`)
    }
    const clsacts = qdiscs.filter((q) => q.kind === 'clsact')
    for (const q of clsacts) {
      const ifindex = ifindexOf(q.dev)
      if (ifindex === undefined) continue
      for (const direction of ['ingress', 'egress'] as const) {
        let filters: ReturnType<typeof listFilters> = []
        try {
          filters = listFilters(q.dev, direction)
        } catch (err) {
          report.errors.push(`list the ${direction} filters of ${q.dev}: ${(err as Error).message}`)
        }
        for (const f of filters) {
          if (f.pref !== FL_TC_PRIORITY || f.kind !== 'bpf' || ownerAlive(f.handle)) continue
          const r = detachClsBpf(ifindex, direction, { handle: f.handle, priority: FL_TC_PRIORITY })
          if (r === 0) removed(`cls_bpf ${direction} filter`, q.dev, f.handle)
          else report.errors.push(`detach the ${direction} cls_bpf filter ${f.handle.toString(16)} of ${q.dev}: errno ${-r}`)
        }
      }
    }
    for (const m of markedClsacts()) {
      const q = clsacts.find((c) => ifindexOf(c.dev) === m.ifindex)
      if (!q) {
        if (!ownerAlive(m.owner)) forgetClsact(m.ifindex) // the interface, or its clsact, is gone
        continue
      }
      if (releaseClsact({ name: q.dev, ifindex: m.ifindex }, 'dead-owner')) removed('clsact qdisc', q.dev, m.owner)
    }
    for (const id of recordedOwners()) {
      if (ownerAlive(id)) continue
      removeOwnerRecord(id)
      removed('record', `owner-${ownerHex(id)}.json`, id)
    }
    for (const r of legacy) {
      if (ownerAlive(r.pid)) continue
      fs.rmSync(path.join(stateDir(), r.file), { force: true })
      removed('record', r.file, r.pid)
    }
  })
  return report
}

let clean = false
let cgroupsSwept = false

/**
 * The sweep every arming runs: the whole tc state at a process's first arming, then only when the
 * cheap check finds a dead owner's trace. Never throws: a sweep that fails must not stop a test
 * (what it could not remove is logged, and `faultline cleanup` reports it).
 */
export function sweepAtArming(): void {
  const t0 = performance.now()
  if (!cgroupsSwept) {
    // Dead owners' target cgroups beside the one this process will make (one readdir).
    cgroupsSwept = true
    const here = cgroupDirOf('self')
    if (here) {
      const r = sweepTargetCgroups([here])
      for (const c of r.removed) debug('swept the target cgroup %s of dead owner %s', c.where, ownerHex(c.owner))
      for (const e of r.errors) debug('sweep: %s', e)
    }
  }
  try {
    // The first arming looks at the whole tc state, over rtnetlink; the sweep, which lists it
    // with `tc` and removes with `tc`/`ip`, runs only when something may be left.
    if (!leftoversLikely() && (clean || !tcLeftoversLikely())) {
      if (!clean) debug('nothing of a dead owner in tc (checked in %s ms)', (performance.now() - t0).toFixed(2))
      clean = true
      return
    }
    const report = sweep()
    // Not retried at every arming when it failed (no iproute2, say): the cheap check still runs.
    clean = true
    for (const e of report.errors) debug('sweep: %s', e)
    debug('swept %d object(s) in %s ms', report.removed.length, (performance.now() - t0).toFixed(2))
  } catch (err) {
    debug('sweep failed: %s', (err as Error).message)
  }
}
