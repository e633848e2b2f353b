/**
 * The state directory: /run/faultline, or FAULTLINE_STATE_DIR. It holds hints only (owner
 * records, the clsact qdiscs faultline created); what outlives a process in the kernel carries
 * its owner's id itself, so a sweep that cannot see this directory (another mount namespace)
 * still judges every object right.
 */
import fs from 'node:fs'

export function stateDir(): string {
  return process.env.FAULTLINE_STATE_DIR || '/run/faultline'
}

/** The state directory, created if needed; throws naming FAULTLINE_STATE_DIR when it cannot be. */
export function ensureStateDir(): string {
  const dir = stateDir()
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 })
  } catch (err) {
    throw new Error(`faultline: create the state directory ${dir}: ${(err as Error).message} (set FAULTLINE_STATE_DIR to a writable directory)`)
  }
  return dir
}

/** The directory's entries, or none when it does not exist (nothing was ever recorded here). */
export function stateEntries(): string[] {
  try {
    return fs.readdirSync(stateDir())
  } catch {
    return []
  }
}
