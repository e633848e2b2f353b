/**
 * Where the cgroup hooks go, so that bystanders run none of faultline's cgroup programs: a child
 * of this process's own cgroup v2 directory, `faultline-<owner id>`, which this process enters at
 * its first arming (its children are born in it), and into which the targets seeded at arming
 * that still live in the cgroup this process came from (a service started before the first
 * arming) are moved. Hooks attached there see only this process's tree, so their links are kept
 * between armings (kept-links.ts). A target that something else placed in a cgroup of its own
 * (runc, systemd-run) is never moved: the hooks go on the root for that window instead.
 *
 * The cgroup v2 root instead, with links attached per arming as before:
 *   - scope 'system' (its targets are anywhere);
 *   - where the own cgroup cannot be made or entered (a read-only cgroupfs in a container,
 *     a cgroup not visible under the mount, EACCES/EBUSY), or FAULTLINE_TARGET_CGROUP=off;
 *   - for one arming, when a seeded target cannot be moved (it would miss the faults otherwise).
 * The directory is removed at exit when nothing is left in it; dead owners' directories are
 * removed by the sweeps (state/cgroups.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import createDebug from 'debug'
import { attachCgroup, openCgroup, type BpfProgram, type Link } from '../libbpf/index.js'
import { cgroup2Mount, cgroupDirOf, moveToCgroup } from '../kernel/cgroup.js'
import type { FailureConfig } from '../config/types.js'
import { FaultlineUnsupportedError } from './errors.js'
import { ownerHex, ownerId } from './state/index.js'
import type { Transaction } from './transaction.js'
import { madeByFaultline } from './state/cgroups.js'

const debug = createDebug('faultline:cgroup')

export interface HookCgroup {
  fd: number
  path: string
  /** Links on it may be kept between armings: it holds only this process's tree. */
  own: boolean
}

export const TARGET_CGROUP_PREFIX = 'faultline-'

let root: HookCgroup | undefined
/** undefined: not tried yet; null: not available (see ownUnavailable). */
let own: HookCgroup | null | undefined
let ownUnavailable = ''
let current: HookCgroup | undefined

/** The cgroup v2 root, opened once per process (the fd is what cgroup attach takes). */
export function rootCgroup(): HookCgroup {
  if (root) return root
  const p = cgroup2Mount()
  if (!p) throw new FaultlineUnsupportedError('no cgroup v2 mount in /proc/mounts: mount one (mount -t cgroup2 none /sys/fs/cgroup/unified); `ip netns exec` mounts a fresh /sys without it, so mount it inside that command, or enter the namespace with `nsenter --net` instead')
  root = { fd: openCgroup(p), path: p, own: false }
  return root
}

/** This process's target cgroup, made and entered on first use; null where it cannot be (ownCgroupUnavailable says why). */
export function ownCgroup(): HookCgroup | null {
  if (own !== undefined) return own
  own = null
  if (process.env.FAULTLINE_TARGET_CGROUP === 'off') {
    ownUnavailable = 'FAULTLINE_TARGET_CGROUP=off'
    return own
  }
  const parent = cgroupDirOf('self')
  if (!parent) {
    ownUnavailable = "this process's cgroup v2 directory is not visible under the cgroup2 mount"
    return own
  }
  const dir = path.join(parent, `${TARGET_CGROUP_PREFIX}${ownerHex(ownerId())}`)
  const t0 = performance.now()
  try {
    fs.mkdirSync(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST' && !madeByFaultline(dir)) {
      // another user made it in a subtree delegated to them: entering it would hand them our hooks
      ownUnavailable = `${dir} exists and belongs to another user`
      debug('%s: cgroup hooks go on the cgroup v2 root', ownUnavailable)
      return own
    }
    if (code !== 'EEXIST') {
      ownUnavailable = `cannot create ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`
      debug('%s: cgroup hooks go on the cgroup v2 root', ownUnavailable)
      return own
    }
  }
  try {
    moveToCgroup(dir, process.pid)
  } catch (err) {
    ownUnavailable = `cannot enter ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`
    debug('%s: cgroup hooks go on the cgroup v2 root', ownUnavailable)
    try {
      fs.rmdirSync(dir)
    } catch {
      // someone else's process got in: the sweep removes it once empty
    }
    return own
  }
  own = { fd: openCgroup(dir), path: dir, own: true }
  debug('entered %s in %s ms', dir, (performance.now() - t0).toFixed(2))
  process.once('exit', leaveOwnCgroup)
  return own
}

/** Why ownCgroup() is null ('' before it was tried, or when it is not). */
export function ownCgroupUnavailable(): string {
  return ownUnavailable
}

/** At exit: back to the parent, and the directory removed when nothing else is in it (else the sweeps do it). */
function leaveOwnCgroup(): void {
  if (!own) return
  try {
    moveToCgroup(path.dirname(own.path), process.pid)
    fs.closeSync(own.fd)
    fs.rmdirSync(own.path)
  } catch {
    // children of ours still in it, or already gone
  }
}

const inside = (dir: string | undefined, cg: string) => !!dir && (dir === cg || dir.startsWith(cg + '/'))

/**
 * Picks the cgroup for this arming's hooks, after the targets are seeded (`targetPids`: their
 * pids as this process sees them), moving the targets that live outside the own cgroup into it.
 * Returns the warning to give the user when it had to fall back to the root for this arming.
 */
export function chooseHookCgroup(config: FailureConfig, seeded: number[], allTargets: () => number[]): string | undefined {
  current = undefined
  if (config.target.scope === 'system') {
    current = rootCgroup()
    return undefined
  }
  const cg = ownCgroup()
  if (!cg) {
    current = rootCgroup()
    return undefined
  }
  // A target forked by one still outside, while it was being moved, is born outside too: after
  // any move, look at every target again (a walk of fl_targets), until none was moved.
  let pids = seeded
  for (let round = 0; round < 4; round++) {
    let moved = 0
    for (const pid of pids) {
      if (pid === process.pid) continue
      const dir = cgroupDirOf(pid)
      if (dir === undefined || inside(dir, cg.path)) continue // gone, or out of sight; or in already
      if (dir !== path.dirname(cg.path)) {
        current = rootCgroup()
        return `target process ${pid} lives in a cgroup of its own (${dir}), which faultline does not change: the cgroup hooks are on the cgroup v2 root for this window, where every other process runs them too`
      }
      try {
        moveToCgroup(cg.path, pid)
        moved++
        debug('moved target %d from %s into %s', pid, dir, cg.path)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
        if (code === 'ESRCH') continue
        current = rootCgroup()
        return `target process ${pid} could not be moved into ${cg.path} (${code}): the cgroup hooks are on the cgroup v2 root for this window, where every other process runs them too`
      }
    }
    if (!moved) {
      current = cg
      return undefined
    }
    pids = allTargets()
  }
  current = rootCgroup()
  return `the targets kept forking outside ${cg.path} while they were moved into it: the cgroup hooks are on the cgroup v2 root for this window, where every other process runs them too`
}

/** The cgroup this arming's hooks go on (chooseHookCgroup picked it; the root before it ran). */
export function hookCgroup(): HookCgroup {
  return current ?? rootCgroup()
}

/** Attaches a cgroup program on this arming's hook cgroup; kept between armings when that is the own cgroup. */
export function attachCgroupHook(tx: Transaction, program: BpfProgram): Link {
  const cg = hookCgroup()
  return tx.attach(
    `cgroup ${program.name}`,
    () => attachCgroup({ program, cgroupFd: cg.fd, cgroupPath: cg.path }),
    cg.own ? { keep: `cgroup ${program.name} (prog fd ${program.fd}) on ${cg.path}` } : {},
  )
}

/**
 * What ownCgroup() would do here, without making or entering anything (`faultline doctor`): the
 * parent it would make its directory in, or why the hooks would go on the cgroup v2 root.
 */
export function targetCgroupOutlook(): { own: boolean; where: string; reason?: string } {
  const mount = cgroup2Mount() ?? 'no cgroup v2 mount'
  if (process.env.FAULTLINE_TARGET_CGROUP === 'off') return { own: false, where: mount, reason: 'FAULTLINE_TARGET_CGROUP=off' }
  const parent = cgroupDirOf('self')
  if (!parent) return { own: false, where: mount, reason: "this process's cgroup v2 directory is not visible under the cgroup2 mount" }
  try {
    fs.accessSync(parent, fs.constants.W_OK)
  } catch (err) {
    return { own: false, where: mount, reason: `${parent} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}), as in most containers` }
  }
  return { own: true, where: path.join(parent, `${TARGET_CGROUP_PREFIX}<owner id>`) }
}
