/** Finds the cgroup v2 mount (unified, or hybrid at /sys/fs/cgroup/unified) from /proc/mounts. */
import fs from 'node:fs'

let cached: string | null | undefined

export function cgroup2Mount(): string | null {
  if (cached !== undefined) return cached
  cached = null
  try {
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mountPoint, type] = line.split(' ')
      if (type === 'cgroup2' && mountPoint) {
        cached = mountPoint.replace(/\\040/g, ' ')
        break
      }
    }
  } catch {
    /* no /proc: not Linux */
  }
  return cached
}
