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

/**
 * The cgroup v2 directory of a process (`self` or a pid as this process sees it), from the `0::`
 * line of /proc/<pid>/cgroup, as a path under the mount; undefined when it is not visible there
 * (another cgroup namespace's view, no cgroup v2) or the process is gone.
 */
export function cgroupDirOf(pid: number | 'self' = 'self'): string | undefined {
  const mount = cgroup2Mount()
  if (!mount) return undefined
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')
  } catch {
    return undefined
  }
  const line = text.split('\n').find((l) => l.startsWith('0::'))
  const rel = line?.slice(3)
  if (!rel || !rel.startsWith('/') || rel.includes('/../') || rel.endsWith(' (deleted)')) return undefined
  const dir = rel === '/' ? mount : mount + rel
  return fs.existsSync(dir) ? dir : undefined
}

/** Moves a process (every thread) into a cgroup v2 directory; throws the errno (EACCES, EROFS, EBUSY, ...). */
export function moveToCgroup(dir: string, pid: number): void {
  fs.writeFileSync(`${dir}/cgroup.procs`, String(pid))
}
