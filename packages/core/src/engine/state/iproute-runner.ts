/**
 * iproute2 (tc, ip) as faultline runs it: from the system's directories (helpers.ts), synchronously,
 * with CAP_NET_ADMIN kept across the exec when faultline holds it without being root (kernel/ambient-caps.ts).
 */
import { spawnSync } from 'node:child_process'
import { withAmbientCaps } from '../../kernel/ambient-caps.js'
import { CAPS } from '../../kernel/privileges.js'
import { SYSTEM_DIRS, helperEnv, helperPath } from '../../helpers.js'

export interface IprouteResult {
  status: number | null
  stdout: string
  stderr: string
  error?: Error
}

export function runIproute(tool: 'tc' | 'ip', args: string[], input?: string): IprouteResult {
  const file = helperPath(tool)
  if (!file) return { status: null, stdout: '', stderr: '', error: new Error(`${tool} not found in ${SYSTEM_DIRS.join(', ')} (faultline does not search PATH)`) }
  const r = withAmbientCaps([CAPS.CAP_NET_ADMIN], () => spawnSync(file, args, { encoding: 'utf8', timeout: 10_000, env: helperEnv(), ...(input !== undefined ? { input } : {}) }))
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...(r.error ? { error: r.error } : {}) }
}

/** What to tell the user when iproute2 said EPERM: the capability, never "not supported". */
export function explainDenied(stderr: string): string {
  return /Operation not permitted|EPERM/.test(stderr) ? ' (EPERM: faultline needs CAP_NET_ADMIN, kept for the tc/ip helper processes)' : ''
}
