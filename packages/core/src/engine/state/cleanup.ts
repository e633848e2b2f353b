/** `faultline cleanup` and cleanupLeftovers(): remove everything dead faultline processes left. */
import fs from 'node:fs'
import { sweep, type SweepReport } from './sweep.js'

export interface CleanupReport extends SweepReport {
  /** The network namespace swept (tc state is per network namespace): inode of /proc/self/ns/net. */
  netns: number
}

/**
 * Removes what faultline processes that died while armed (SIGKILL, OOM, a crashed CI job) left
 * in this network namespace: cls_bpf filters, the clsact qdiscs faultline created, htb `fa17:`
 * qdiscs, flifb IFB devices and their records. Objects of live faultline processes, in any pid or
 * mount namespace sharing this network namespace, are never touched. Safe to run at any time.
 */
export function cleanupLeftovers(): CleanupReport {
  const report = sweep()
  return { ...report, netns: fs.statSync('/proc/self/ns/net').ino }
}
