/** `faultline cleanup` and cleanupLeftovers(): remove everything dead faultline processes left. */
import fs from 'node:fs'
import { sweep, type SweepReport } from './sweep.js'
import { sweepAllTargetCgroups } from './cgroups.js'
import { ownerHex } from './owner.js'

export interface CleanupReport extends SweepReport {
  /** The network namespace swept (tc state is per network namespace): inode of /proc/self/ns/net. */
  netns: number
}

/**
 * Removes what faultline processes that died while armed (SIGKILL, OOM, a crashed CI job) left
 * in this network namespace: cls_bpf filters, the clsact qdiscs faultline created, htb `fa17:`
 * qdiscs, flifb IFB devices and their records; and, anywhere under the cgroup v2 mount, the
 * empty `faultline-<owner>` target cgroups of dead owners. Objects of live faultline processes,
 * in any pid or mount namespace sharing this network namespace, are never touched. Safe to run at any time.
 */
export function cleanupLeftovers(): CleanupReport {
  const report = sweep()
  const cgroups = sweepAllTargetCgroups()
  report.removed.push(...cgroups.removed.map((c) => ({ kind: 'cgroup', where: c.where, owner: ownerHex(c.owner) })))
  report.errors.push(...cgroups.errors)
  return { ...report, netns: fs.statSync('/proc/self/ns/net').ino }
}
