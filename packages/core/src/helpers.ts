/**
 * The helper programs faultline runs with privileges (tc, ip, getent, sh, unshare): by absolute
 * path from the system's directories, never through the caller's PATH, where `npm test` puts every
 * node_modules/.bin first and any dependency (or a user who can write one of those directories)
 * could stand in for `tc` and run with CAP_NET_ADMIN. Each is looked up once per process.
 */
import fs from 'node:fs'
import path from 'node:path'
import createDebug from 'debug'

const debug = createDebug('faultline:helpers')
export const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'] as const
export type Helper = 'tc' | 'ip' | 'getent' | 'sh' | 'unshare'
export const HELPERS: readonly Helper[] = ['tc', 'ip', 'getent', 'sh', 'unshare']

const found = new Map<Helper, string | null>()

/** An executable only root (or this user) can replace: regular file, owner root/me, not group/world-writable. */
function usable(file: string): boolean {
  try {
    const st = fs.statSync(file)
    const me = process.geteuid?.() ?? 0
    return st.isFile() && (st.mode & 0o111) !== 0 && (st.mode & 0o022) === 0 && (st.uid === 0 || st.uid === me)
  } catch {
    return false
  }
}

/** The absolute path of a helper, or null when none of the system directories has a usable one. */
export function helperPath(name: Helper): string | null {
  if (!found.has(name)) {
    const file = SYSTEM_DIRS.map((d) => path.join(d, name)).find(usable) ?? null
    found.set(name, file)
    debug('%s: %s', name, file ?? `not found in ${SYSTEM_DIRS.join(', ')}`)
  }
  return found.get(name)!
}

/** The path to spawn; throws naming the directories searched when there is none. */
export function helper(name: Helper): string {
  const file = helperPath(name)
  if (!file) throw Object.assign(new Error(`${name} not found in ${SYSTEM_DIRS.join(', ')} (faultline does not search PATH)`), { code: 'ENOENT' })
  return file
}

/** The environment for a helper: the caller's, with PATH set to the system directories (a shell script's own `tc` resolves there too). */
export function helperEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: SYSTEM_DIRS.join(':') }
}
