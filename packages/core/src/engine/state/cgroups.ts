/**
 * The target cgroups (engine/target-cgroup.ts) of dead faultline processes: `faultline-<owner id>`
 * directories under a process's own cgroup. Each is removed once its owner is gone and nothing
 * runs in it (rmdir refuses a cgroup that holds a process or a child cgroup, so a live owner's,
 * which holds that owner, is never removed even where its liveness token is out of sight).
 */
import fs from 'node:fs'
import path from 'node:path'
import createDebug from 'debug'
import { cgroup2Mount } from '../../kernel/cgroup.js'
import { ownerAlive } from './owner.js'

const debug = createDebug('faultline:state')
const NAME = /^faultline-([0-9a-f]{8})$/
/** How deep `faultline cleanup` looks below the cgroup v2 mount. */
const MAX_DEPTH = 8

export interface CgroupSweep {
  removed: { where: string; owner: number }[]
  errors: string[]
}

function subdirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(dir, d.name))
  } catch {
    return []
  }
}

/**
 * Whether root (or this user) made the directory: in a subtree delegated to another user, that
 * user can make a directory of any name, and a privileged sweep must not remove theirs.
 */
export function madeByFaultline(dir: string): boolean {
  try {
    const uid = fs.statSync(dir).uid
    return uid === 0 || uid === process.geteuid?.()
  } catch {
    return false
  }
}

/** Removes a dead owner's directory, its nested faultline directories first; false when something still runs there. */
function removeTree(dir: string, out: CgroupSweep): boolean {
  for (const sub of subdirs(dir)) {
    const m = NAME.exec(path.basename(sub))
    if (!m || !madeByFaultline(sub) || !removeTree(sub, out)) return false
  }
  try {
    fs.rmdirSync(dir)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EBUSY' && code !== 'ENOENT') out.errors.push(`remove the cgroup ${dir}: ${code ?? (err as Error).message}`)
    else debug('cgroup %s: %s (its processes still run)', dir, code)
    return false
  }
}

/** Sweeps the faultline directories among `parents`' children (and, with `deep`, every level below them). */
export function sweepTargetCgroups(parents: string[], deep = false, depth = 0): CgroupSweep {
  const out: CgroupSweep = { removed: [], errors: [] }
  for (const parent of parents) {
    for (const dir of subdirs(parent)) {
      const m = NAME.exec(path.basename(dir))
      if (m && !madeByFaultline(dir)) {
        debug('cgroup %s: not made by a privileged faultline process (its owner is another user): left alone', dir)
        continue
      }
      if (m) {
        const owner = parseInt(m[1]!, 16)
        if (!ownerAlive(owner)) {
          if (removeTree(dir, out)) out.removed.push({ where: dir, owner })
          continue
        }
        // a live owner's: its children's, nested below, may be dead owners'
      }
      if (deep && depth < MAX_DEPTH) {
        const below = sweepTargetCgroups([dir], true, depth + 1)
        out.removed.push(...below.removed)
        out.errors.push(...below.errors)
      }
    }
  }
  return out
}

/** Every dead owner's target cgroup under the cgroup v2 mount (`faultline cleanup`). */
export function sweepAllTargetCgroups(): CgroupSweep {
  const mount = cgroup2Mount()
  return mount ? sweepTargetCgroups([mount], true) : { removed: [], errors: [] }
}
