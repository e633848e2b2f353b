/**
 * Minderbinder's YAML, accepted unchanged:
 *   agents_of_chaos:
 *     syscall:          [{ name, syscall, ret_code, targets: [{ process_name }], delay_ms, failure_rate }]
 *     outgoing_network: [{ name, targets: [{ process_name }], delay_ms, failure_rate }]
 * Its targets are process names anywhere on the machine (scope 'system'); each rule keeps its
 * own names; `delay_ms` counts from the target's exec; `failure_rate` is a percentage
 * (50 means 50 %, not 51 % as Minderbinder's own `rand % 100 <= rate` makes it).
 */
import type { FailureConfig, FailureConfigInput, SyscallRuleInput } from './types.js'
import { ConfigError, type ConfigIssue } from './errors.js'
import { validateConfig, COMM_MAX } from './validate.js'
import { didYouMean } from './suggest.js'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

export const MB_SYSCALL_KEYS = ['name', 'syscall', 'ret_code', 'targets', 'delay_ms', 'failure_rate']
export const MB_NETWORK_KEYS = ['name', 'targets', 'delay_ms', 'failure_rate']

export function isMinderbinder(doc: unknown): doc is { agents_of_chaos: unknown } {
  return isObj(doc) && 'agents_of_chaos' in doc
}

/** Field names of ours -> Minderbinder's, so errors point at what the user wrote. */
function remap(path: string, section: string, i: number): string {
  return path
    .replace(/^syscalls\[\d+\]\.ret$/, `${section}[${i}].ret_code`)
    .replace(/^syscalls\[\d+\]\.when\.after$/, `${section}[${i}].delay_ms`)
    .replace(/^syscalls\[\d+\]\.when\.probability$/, `${section}[${i}].failure_rate`)
    .replace(/^syscalls\[\d+\]/, `${section}[${i}]`)
}

export function fromMinderbinder(doc: { agents_of_chaos: unknown }, source?: string): FailureConfig {
  const issues: ConfigIssue[] = []
  const root = doc.agents_of_chaos
  const base = 'agents_of_chaos'
  if (!isObj(root)) throw new ConfigError([{ path: base, message: 'must be an object with syscall and/or outgoing_network' }], source)
  for (const k of Object.keys(root)) {
    if (k !== 'syscall' && k !== 'outgoing_network') issues.push({ path: `${base}.${k}`, message: `unknown key${didYouMean(k, ['syscall', 'outgoing_network'])} (allowed: syscall, outgoing_network)` })
  }
  const comms = new Set<string>()
  const ruleComms: string[][] = []

  const common = (raw: unknown, path: string, keys: string[]) => {
    if (!isObj(raw)) {
      issues.push({ path, message: `must be an object with ${keys.join(', ')}` })
      return undefined
    }
    for (const k of Object.keys(raw)) if (!keys.includes(k)) issues.push({ path: `${path}.${k}`, message: `unknown key${didYouMean(k, keys)} (allowed: ${keys.join(', ')})` })
    const names: string[] = []
    if (!Array.isArray(raw.targets) || raw.targets.length === 0) issues.push({ path: `${path}.targets`, message: 'must be a non-empty list of { process_name }' })
    else
      raw.targets.forEach((t, j) => {
        const n = isObj(t) ? t.process_name : undefined
        if (typeof n !== 'string' || n === '') issues.push({ path: `${path}.targets[${j}].process_name`, message: 'must be a non-empty process name' })
        else if (Buffer.byteLength(n) > COMM_MAX) issues.push({ path: `${path}.targets[${j}].process_name`, message: `"${n}" is longer than ${COMM_MAX} bytes; the kernel keeps only "${n.slice(0, COMM_MAX)}"` })
        else names.push(n)
      })
    const rate = raw.failure_rate ?? 100
    let probability: number | undefined
    if (typeof rate !== 'number' || rate < 0 || rate > 100) issues.push({ path: `${path}.failure_rate`, message: `must be a percentage 0..100, got ${JSON.stringify(rate)}` })
    else probability = rate / 100
    const delay = raw.delay_ms ?? 0
    if (typeof delay !== 'number' || delay < 0) issues.push({ path: `${path}.delay_ms`, message: `must be a non-negative number of ms, got ${JSON.stringify(delay)}` })
    for (const n of names) comms.add(n)
    return { raw, names, when: { ...(delay ? { after: delay as number } : {}), ...(probability !== undefined && probability < 1 ? { probability } : {}) } }
  }

  const syscalls: SyscallRuleInput[] = []
  const section = `${base}.syscall`
  const rawSyscalls = root.syscall ?? []
  if (!Array.isArray(rawSyscalls)) issues.push({ path: section, message: 'must be a list of syscall rules' })
  else
    rawSyscalls.forEach((raw, i) => {
      const c = common(raw, `${section}[${i}]`, MB_SYSCALL_KEYS)
      if (!c) return
      ruleComms.push(c.names)
      syscalls.push({ name: c.raw.name as string, syscall: c.raw.syscall as string, ret: c.raw.ret_code as number, when: c.when })
    })
  const network: unknown[] = []
  const rawNet = root.outgoing_network ?? []
  if (!Array.isArray(rawNet)) issues.push({ path: `${base}.outgoing_network`, message: 'must be a list of network rules' })
  else
    rawNet.forEach((raw, i) => {
      const c = common(raw, `${base}.outgoing_network[${i}]`, MB_NETWORK_KEYS)
      if (c) network.push({ name: c.raw.name, action: 'drop', direction: 'egress', comm: c.names, ...(Object.keys(c.when).length ? { when: c.when } : {}) })
    })

  const input: FailureConfigInput = { target: { scope: 'system', comm: [...comms] }, syscalls, ...(network.length ? { network } : {}) }
  let config: FailureConfig | undefined
  try {
    config = validateConfig(input)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    for (const is of err.issues) {
      const m = /^syscalls\[(\d+)\]/.exec(is.path)
      // The target is built from every rule's targets: its errors (too many names) belong to the whole document.
      const path = m ? remap(is.path, section, Number(m[1])) : is.path.startsWith('target.') ? base : is.path
      issues.push({ path, message: path === base && is.path !== base ? `targets of all rules together: ${is.message}` : is.message })
    }
  }
  if (issues.length || !config) throw new ConfigError(issues, source)
  config.syscalls.forEach((r, i) => (r.comm = ruleComms[i]))
  return config
}
