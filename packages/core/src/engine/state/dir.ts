/**
 * The state directory: /run/faultline, or FAULTLINE_STATE_DIR. It holds hints only (owner
 * records, the clsact qdiscs faultline created); what outlives a process in the kernel carries
 * its owner's id itself, so a sweep that cannot see this directory (another mount namespace)
 * still judges every object right.
 *
 * Its files steer what a privileged process removes, so it is used only when no other user can
 * change it: it and every directory above it belong to root or to this user, and none is
 * writable by group or others (unless sticky, as /tmp). Files are written without following
 * links (O_NOFOLLOW) to a fresh name (O_EXCL), then renamed.
 */
import fs from 'node:fs'
import path from 'node:path'
import createDebug from 'debug'

const debug = createDebug('faultline:state')
const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants
/** Records and markers are a few dozen bytes; anything larger was not written by faultline. */
const MAX_FILE = 4096

export function stateDir(): string {
  return process.env.FAULTLINE_STATE_DIR || '/run/faultline'
}

/** Why another user could change `dir` (or a directory above it), or undefined when none can. */
export function untrustedDir(dir: string): string | undefined {
  const me = process.geteuid?.() ?? 0
  const real = (() => {
    try {
      return fs.realpathSync(dir)
    } catch {
      return dir
    }
  })()
  for (const full of new Set([path.resolve(dir), real])) {
    for (let p = full; ; p = path.dirname(p)) {
      let st: fs.Stats
      try {
        st = fs.lstatSync(p)
      } catch {
        if (p === full) return `${p} does not exist`
        return `cannot look at ${p}`
      }
      if (st.uid !== 0 && st.uid !== me) return `${p} belongs to uid ${st.uid}`
      if (p === full && !st.isDirectory() && !st.isSymbolicLink()) return `${p} is not a directory`
      const sticky = (st.mode & 0o1000) !== 0 && p !== full
      if (!st.isSymbolicLink() && (st.mode & 0o022) !== 0 && !sticky) return `${p} is writable by ${(st.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`
      if (p === path.dirname(p)) break
    }
  }
  return undefined
}

/** The state directory, created if needed; throws naming FAULTLINE_STATE_DIR when it cannot be, or when another user could change it. */
export function ensureStateDir(): string {
  const dir = stateDir()
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 })
  } catch (err) {
    throw new Error(`faultline: create the state directory ${dir}: ${(err as Error).message} (set FAULTLINE_STATE_DIR to a writable directory)`)
  }
  const why = untrustedDir(dir)
  if (why) throw new Error(`faultline: refusing the state directory ${dir}: ${why}; another user could plant or change its records (set FAULTLINE_STATE_DIR to a directory only you can write)`)
  return dir
}

/** The directory's entries, or none when it does not exist (nothing was ever recorded here) or another user could have written them. */
export function stateEntries(): string[] {
  const dir = stateDir()
  let entries: string[]
  try {
    entries = fs.readdirSync(dir)
  } catch {
    return []
  }
  const why = untrustedDir(dir)
  if (!why) return entries
  debug('ignoring the state directory %s: %s', dir, why)
  return []
}

/** Writes a state file whole (readers may look at any moment), never through a link. */
export function writeStateFile(name: string, content: string): void {
  const file = path.join(ensureStateDir(), name)
  const tmp = `${file}.${process.pid}.tmp`
  fs.rmSync(tmp, { force: true }) // a stale one of a dead process with this pid
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644)
  try {
    fs.writeSync(fd, content)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
}

/** A state file's content; undefined when it is missing, a link, not a regular file, or too large. */
export function readStateFile(name: string): string | undefined {
  let fd: number
  try {
    fd = fs.openSync(path.join(stateDir(), name), O_RDONLY | O_NOFOLLOW)
  } catch {
    return undefined
  }
  try {
    const st = fs.fstatSync(fd)
    if (!st.isFile() || st.size > MAX_FILE) return undefined
    const buf = Buffer.alloc(st.size)
    return buf.toString('utf8', 0, fs.readSync(fd, buf, 0, st.size, 0))
  } finally {
    fs.closeSync(fd)
  }
}
