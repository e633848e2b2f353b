/**
 * validateConfig(input): the only way from user input to a FailureConfig. Collects every problem
 * (not just the first) into one ConfigError whose lines name the field. Never touches the kernel.
 *
 * Decisions:
 * - Unknown keys are errors at every level (a misspelt `mtach` must not silently match everything).
 * - Exactly one of `errno` (name, or 1..4095) and `ret` (-4095..-1) per rule.
 * - `match.port` / `match.address` apply to connect, bind, sendmsg, sendto; `match.family` to the
 *   socket calls; `match.path` to path-taking calls; `match.fd` to fd-taking calls; `match.flags`
 *   to open/openat/openat2/creat. A filter on a call it cannot apply to is an error.
 * - `when.nth` selects exactly one call, so `times` > 1 beside it is a contradiction; `seed`
 *   without `probability` has nothing to seed and is an error.
 * - A CIDR with host bits set past its prefix is an error (it is usually a typo), with the fix.
 */
import type { FailureConfig, NormalizedSyscallMatch, NormalizedSyscallRule, NormalizedTarget, NormalizedWhen, SocketFamily } from './types.js'
import { ConfigError, type ConfigIssue } from './errors.js'
import { didYouMean } from './suggest.js'
import { describe, MAX_COUNT, MAX_NAME_LENGTH } from './describe.js'
import { errnoByName, errnoName, errnoNames, MAX_ERRNO } from './errno.js'
import { ADDRESS_SYSCALLS, FD_SYSCALLS, PATH_SYSCALLS, RUNNER_CRITICAL_SYSCALLS, SOCKET_SYSCALLS, allSyscallNames, currentArch, syscallExists } from './syscalls.js'
import { parseDuration } from './duration.js'
import { parseAddress } from './address.js'
import { validateNetworkRules, type NormalizedNetworkRule } from './network.js'
import { checkDelayTarget, validateDelay } from './delay.js'
import { CORRUPT_SYSCALLS, validateCorrupt } from './corrupt.js'
import { FL_MAX_DNS_RULES, validateDnsRules, type NormalizedDnsRule } from './dns.js'
import { FL_MAX_COMMS, FL_MAX_NET_RULES, FL_MAX_RULES } from '../bpf-limits.js'
import { MECHANISMS } from './mechanisms.js'

// The tables below are the config's shape; config/json-schema.ts builds the JSON Schema from them.
export const TOP_KEYS = ['target', 'syscalls', 'network', 'dns']
export const TARGET_KEYS = ['scope', 'comm']
export const RULE_KEYS = ['name', 'syscall', 'errno', 'ret', 'delay', 'jitter', 'corrupt', 'match', 'when', 'mechanism']
export const MATCH_KEYS = ['port', 'address', 'family', 'path', 'fd', 'flags']
export const WHEN_KEYS = ['after', 'nth', 'times', 'probability', 'seed']
export const SCOPES = ['tree', 'children', 'system'] as const
/** What the kernel maps hold (bpf/include/faultline.h, net.h): a config beyond them is refused here. */
export const LIMITS = { syscallRules: FL_MAX_RULES, networkRules: FL_MAX_NET_RULES, dnsRules: FL_MAX_DNS_RULES, comms: FL_MAX_COMMS } as const
const OPEN_SYSCALLS = ['open', 'openat', 'openat2', 'creat']
export const OPEN_FLAGS = ['O_WRONLY', 'O_RDWR', 'O_CREAT', 'O_EXCL', 'O_NOCTTY', 'O_TRUNC', 'O_APPEND', 'O_NONBLOCK', 'O_DSYNC', 'O_DIRECT', 'O_DIRECTORY', 'O_NOFOLLOW', 'O_NOATIME', 'O_CLOEXEC', 'O_SYNC', 'O_PATH', 'O_TMPFILE']
export const COMM_MAX = 15

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0

class Issues {
  readonly list: ConfigIssue[] = []
  add(path: string, message: string): void {
    this.list.push({ path, message })
  }
  /** Reports keys of `obj` not in `allowed`. */
  keys(path: string, obj: Obj, allowed: string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) this.add(path ? `${path}.${k}` : k, `unknown key${didYouMean(k, allowed)} (allowed: ${allowed.join(', ')})`)
    }
  }
}

/** Validated configs are branded so withFailureConfig can accept them as they are. */
const validated = new WeakSet<object>()
export function isValidatedConfig(v: unknown): v is FailureConfig {
  return typeof v === 'object' && v !== null && validated.has(v)
}

export function validateConfig(input: unknown, source?: string): FailureConfig {
  if (isValidatedConfig(input)) return input
  const issues = new Issues()
  if (!isObj(input)) throw new ConfigError([{ path: '', message: `a config must be an object with ${TOP_KEYS.join(', ')}; got ${describe(input)}` }], source)
  issues.keys('', input, TOP_KEYS)
  const target = validateTarget(input.target, issues)
  const syscalls: NormalizedSyscallRule[] = []
  if (input.syscalls !== undefined && !Array.isArray(input.syscalls)) issues.add('syscalls', `must be an array of rules, got ${describe(input.syscalls)}`)
  const names = new Map<string, string>()
  ;(Array.isArray(input.syscalls) ? input.syscalls : []).forEach((raw, i) => {
    const rule = validateRule(raw, `syscalls[${i}]`, issues)
    if (!rule) return
    const dup = names.get(rule.name)
    if (dup) issues.add(`syscalls[${i}].name`, `"${rule.name}" is already the name of ${dup}; rule names must be unique`)
    else names.set(rule.name, `syscalls[${i}]`)
    syscalls.push(rule)
  })
  if (Array.isArray(input.syscalls) && input.syscalls.length > LIMITS.syscallRules) {
    issues.add(`syscalls[${LIMITS.syscallRules}]`, `a config holds at most ${LIMITS.syscallRules} syscall rules; this one has ${input.syscalls.length}`)
  }
  let network: NormalizedNetworkRule[] = []
  if (input.network !== undefined) {
    if (!Array.isArray(input.network)) issues.add('network', `must be an array of rules, got ${describe(input.network)}`)
    else {
      network = validateNetworkRules(input.network, issues.list)
      if (input.network.length > LIMITS.networkRules) {
        issues.add(`network[${LIMITS.networkRules}]`, `a config holds at most ${LIMITS.networkRules} network rules; this one has ${input.network.length}`)
      }
    }
  }
  const allNames = [...syscalls.map((r) => r.name)]
  network.forEach((r) => {
    if (allNames.includes(r.name)) issues.add(`${r.path}.name`, `"${r.name}" is also a syscall rule's name; rule names must be unique`)
  })
  checkDelayTarget(target, syscalls, (p, m) => issues.add(p, m))
  const dns = validateDnsSection(input.dns, issues)
  const otherNames = [...allNames, ...network.map((r) => r.name)]
  dns.forEach((r) => {
    if (otherNames.includes(r.name)) issues.add(`${r.path}.name`, `"${r.name}" is also the name of a syscall or network rule; rule names must be unique`)
  })
  if (issues.list.length) throw new ConfigError(issues.list, source)

  const warnings: string[] = []
  if (target.scope === 'tree') {
    for (const r of syscalls) {
      const filtered = Object.keys(r.match).length > 0 || target.comm.length > 0
      if (RUNNER_CRITICAL_SYSCALLS.includes(r.syscall) && !filtered) {
        warnings.push(
          `${r.path} (${r.name}): an unfiltered ${r.syscall} rule on the calling process can break the test runner itself ` +
            `(its output and its channel to the workers); use target: { scope: 'children' } or a match filter`,
        )
      }
    }
  }
  const config: FailureConfig = { target, syscalls, network, dns, warnings }
  validated.add(config)
  return config
}

/**
 * A validated config with another target (faultline run's --scope/--comm), checked as
 * validateConfig checks a target against the rules. The result is validated too: arm() takes it
 * as it is (validating a copy of validateConfig's output again would refuse its normalized keys).
 */
export function retargetConfig(config: FailureConfig, target: NormalizedTarget, warnings: string[] = config.warnings): FailureConfig {
  const issues = new Issues()
  checkDelayTarget(target, config.syscalls, (p, m) => issues.add(p, m))
  if (issues.list.length) throw new ConfigError(issues.list)
  const out: FailureConfig = { ...config, target, warnings }
  validated.add(out)
  return out
}

function validateDnsSection(raw: unknown, issues: Issues): NormalizedDnsRule[] {
  if (raw === undefined) return []
  if (!Array.isArray(raw)) {
    issues.add('dns', `must be an array of rules { name, answer }, got ${describe(raw)}`)
    return []
  }
  const rules = validateDnsRules(raw, issues.list)
  if (raw.length > LIMITS.dnsRules) issues.add(`dns[${LIMITS.dnsRules}]`, `a config holds at most ${LIMITS.dnsRules} dns rules; this one has ${raw.length}`)
  return rules
}

function validateTarget(raw: unknown, issues: Issues): NormalizedTarget {
  const target: NormalizedTarget = { scope: 'tree', comm: [] }
  if (raw === undefined) return target
  if (!isObj(raw)) {
    issues.add('target', `must be an object with ${TARGET_KEYS.join(', ')}, got ${describe(raw)}`)
    return target
  }
  issues.keys('target', raw, TARGET_KEYS)
  if (raw.scope !== undefined) {
    if (typeof raw.scope === 'string' && (SCOPES as readonly string[]).includes(raw.scope)) target.scope = raw.scope as NormalizedTarget['scope']
    else issues.add('target.scope', `${describe(raw.scope)} is not a scope; allowed: ${SCOPES.join(', ')}`)
  }
  if (raw.comm !== undefined) {
    if (!Array.isArray(raw.comm)) issues.add('target.comm', `must be an array of process names, got ${describe(raw.comm)}`)
    else {
      raw.comm.forEach((c, i) => {
        if (typeof c !== 'string' || c.length === 0) issues.add(`target.comm[${i}]`, `must be a non-empty process name, got ${describe(c)}`)
        else if (Buffer.byteLength(c) > COMM_MAX)
          issues.add(`target.comm[${i}]`, `"${c}" is longer than ${COMM_MAX} bytes; the kernel keeps only the first ${COMM_MAX} ("${c.slice(0, COMM_MAX)}"): use that`)
        else target.comm.push(c)
      })
      if (raw.comm.length > LIMITS.comms) issues.add(`target.comm[${LIMITS.comms}]`, `at most ${LIMITS.comms} process names; this list has ${raw.comm.length}`)
    }
  }
  if (target.scope === 'system' && target.comm.length === 0 && !(Array.isArray(raw.comm) && raw.comm.length > 0)) {
    issues.add('target.comm', `scope 'system' needs a comm list: it would otherwise fail every process on the machine`)
  }
  return target
}

function validateRule(raw: unknown, path: string, issues: Issues): NormalizedSyscallRule | undefined {
  if (!isObj(raw)) {
    issues.add(path, `must be a rule object { name, syscall, errno | ret | delay, match?, when? }, got ${describe(raw)}`)
    return undefined
  }
  const before = issues.list.length
  issues.keys(path, raw, RULE_KEYS)
  const name = raw.name
  if (typeof name !== 'string' || name.trim() === '') issues.add(`${path}.name`, `must be a non-empty string, got ${describe(name)}`)
  else if (name.length > MAX_NAME_LENGTH) issues.add(`${path}.name`, `${describe(name)} is longer than ${MAX_NAME_LENGTH} characters`)
  const syscall = raw.syscall
  if (typeof syscall !== 'string' || syscall === '') issues.add(`${path}.syscall`, `must be a syscall name such as "connect" or "openat", got ${describe(syscall)}`)
  else {
    const e = syscallExists(syscall)
    if (!e.anywhere) issues.add(`${path}.syscall`, `${describe(syscall)} is not a Linux syscall${didYouMean(syscall, allSyscallNames())}`)
    else if (!e.here) issues.add(`${path}.syscall`, `"${syscall}" does not exist on ${currentArch()}`)
  }
  // delay (config/delay.ts) and corrupt (config/corrupt.ts) replace errno / ret: the call
  // succeeds, late or with altered data.
  const delay = validateDelay(raw, path, (p, m) => issues.add(p, m))
  const corrupt = raw.corrupt !== undefined ? validateCorrupt(raw, path, issues.list) : undefined
  if (raw.delay !== undefined && raw.corrupt !== undefined) issues.add(`${path}.corrupt`, 'give corrupt or delay, not both')
  const ret = raw.delay !== undefined || raw.corrupt !== undefined ? 0 : validateReturn(raw, path, issues)
  const match = validateMatch(raw.match, typeof syscall === 'string' ? syscall : '', `${path}.match`, issues, raw.corrupt !== undefined)
  const when = validateWhen(raw.when, `${path}.when`, issues)
  const mechanism = raw.mechanism
  if (mechanism !== undefined && !(MECHANISMS as readonly unknown[]).includes(mechanism)) {
    issues.add(`${path}.mechanism`, `${describe(mechanism)} is not a mechanism; allowed: ${MECHANISMS.join(', ')} (or leave it out: faultline picks the best available)`)
  } else if (mechanism === 'fexit-corrupt' && raw.corrupt === undefined) {
    issues.add(`${path}.mechanism`, 'fexit-corrupt serves corrupt rules only (corrupt: { bytes, seed }); an errno rule needs another mechanism')
  }
  if (issues.list.length > before || ret === undefined) return undefined
  const rule: NormalizedSyscallRule = { name: name as string, syscall: syscall as string, ret, errnoName: corrupt ? undefined : errnoName(-ret), match, when, path }
  if (corrupt) rule.corrupt = corrupt
  if (mechanism !== undefined) rule.mechanism = mechanism as NormalizedSyscallRule['mechanism']
  if (delay) rule.delay = delay
  return rule
}

function validateReturn(raw: Obj, path: string, issues: Issues): number | undefined {
  const hasErrno = raw.errno !== undefined
  const hasRet = raw.ret !== undefined
  if (hasErrno === hasRet) {
    issues.add(path, hasErrno ? 'give errno or ret, not both' : 'needs errno (e.g. "ECONNREFUSED"), ret (e.g. -111) or delay (e.g. "200ms")')
    return undefined
  }
  if (hasErrno) {
    const e = raw.errno
    if (typeof e === 'string') {
      const n = errnoByName(e)
      if (n === undefined) {
        issues.add(`${path}.errno`, `${describe(e)} is not an errno${didYouMean(e, errnoNames())}`)
        return undefined
      }
      return -n
    }
    if (typeof e === 'number' && Number.isInteger(e) && e >= 1 && e <= MAX_ERRNO) return -e
    issues.add(`${path}.errno`, `must be an errno name like "ECONNREFUSED" or a number 1..${MAX_ERRNO}, got ${describe(e)}` + (typeof e === 'number' && e < 0 ? ` (use ret: ${e} for a raw return value)` : ''))
    return undefined
  }
  const r = raw.ret
  if (typeof r === 'number' && Number.isInteger(r) && r <= -1 && r >= -MAX_ERRNO) return r
  issues.add(`${path}.ret`, `must be a negative errno value -${MAX_ERRNO}..-1 (e.g. -111), got ${describe(r)}`)
  return undefined
}

/** `corrupt`: the rule corrupts reads, so match.path applies to the read calls (the file read). */
function validateMatch(raw: unknown, syscall: string, path: string, issues: Issues, corrupt = false): NormalizedSyscallMatch {
  const match: NormalizedSyscallMatch = {}
  if (raw === undefined) return match
  if (!isObj(raw)) {
    issues.add(path, `must be an object with ${MATCH_KEYS.join(', ')}, got ${describe(raw)}`)
    return match
  }
  issues.keys(path, raw, MATCH_KEYS)
  const appliesTo = (key: string, list: readonly string[], what: string) => {
    if (raw[key] === undefined || !syscall || list.includes(syscall)) return true
    issues.add(`${path}.${key}`, `does not apply to ${syscall}: only to ${what} (${list.slice(0, 8).join(', ')}${list.length > 8 ? ', ...' : ''})`)
    return false
  }
  if (raw.port !== undefined && appliesTo('port', ADDRESS_SYSCALLS, 'calls with a socket address')) {
    if (typeof raw.port === 'number' && Number.isInteger(raw.port) && raw.port >= 1 && raw.port <= 65535) match.port = raw.port
    else issues.add(`${path}.port`, `must be an integer 1..65535, got ${describe(raw.port)}`)
  }
  if (raw.address !== undefined && appliesTo('address', ADDRESS_SYSCALLS, 'calls with a socket address')) {
    const a = typeof raw.address === 'string' ? parseAddress(raw.address) : `must be an IP address or CIDR string, got ${describe(raw.address)}`
    if (typeof a === 'string') issues.add(`${path}.address`, a)
    else match.address = a
  }
  if (raw.family !== undefined && appliesTo('family', SOCKET_SYSCALLS, 'socket calls')) {
    const fam: SocketFamily | undefined = raw.family === 'inet' || raw.family === 4 ? 'inet' : raw.family === 'inet6' || raw.family === 6 ? 'inet6' : undefined
    if (!fam) issues.add(`${path}.family`, `${describe(raw.family)} is not a family; allowed: inet, inet6 (or 4, 6)`)
    else if (match.address && match.address.family !== fam) issues.add(`${path}.family`, `${fam} contradicts address ${match.address.text} (${match.address.family})`)
    else match.family = fam
  }
  const pathCalls = corrupt ? [...PATH_SYSCALLS, ...CORRUPT_SYSCALLS] : PATH_SYSCALLS
  for (const [key, list, what] of [['path', pathCalls, 'calls with a path argument'], ['fd', FD_SYSCALLS, 'calls with an fd argument']] as const) {
    if (raw[key] === undefined || !appliesTo(key, list, what)) continue
    const v = raw[key]
    if (typeof v === 'string' && v.length > 0 && Buffer.byteLength(v) < 128) match[key] = v
    else issues.add(`${path}.${key}`, `must be a glob string of 1..127 bytes (e.g. "/tmp/app/**/*.json"; * within a directory, ** across, ? one character), got ${describe(v)}`)
  }
  if (match.path && match.fd) issues.add(`${path}.fd`, 'give path or fd, not both')
  if (raw.flags !== undefined && appliesTo('flags', OPEN_SYSCALLS, 'open calls')) {
    if (!Array.isArray(raw.flags) || raw.flags.length === 0) issues.add(`${path}.flags`, `must be a non-empty array of open flags (${OPEN_FLAGS.join(', ')})`)
    else {
      const ok: string[] = []
      raw.flags.forEach((f, i) => {
        if (typeof f === 'string' && OPEN_FLAGS.includes(f)) ok.push(f)
        else issues.add(`${path}.flags[${i}]`, `${describe(f)} is not an open flag${typeof f === 'string' ? didYouMean(f, OPEN_FLAGS) : ''} (allowed: ${OPEN_FLAGS.join(', ')})`)
      })
      match.flags = ok
    }
  }
  return match
}

function validateWhen(raw: unknown, path: string, issues: Issues): NormalizedWhen {
  const when: NormalizedWhen = { afterMs: 0, nth: 0, times: 0, probability: 1, seed: undefined }
  if (raw === undefined) return when
  if (!isObj(raw)) {
    issues.add(path, `must be an object with ${WHEN_KEYS.join(', ')}, got ${describe(raw)}`)
    return when
  }
  issues.keys(path, raw, WHEN_KEYS)
  if (raw.after !== undefined) {
    const d = parseDuration(raw.after)
    if (typeof d === 'string') issues.add(`${path}.after`, d)
    else when.afterMs = d
  }
  for (const key of ['nth', 'times'] as const) {
    if (raw[key] === undefined) continue
    const v = raw[key]
    if (isPosInt(v) && v <= MAX_COUNT) when[key] = v
    else issues.add(`${path}.${key}`, `must be a positive integer up to ${MAX_COUNT}, got ${describe(v)}`)
  }
  if (when.nth && when.times > 1) issues.add(`${path}.times`, `nth: ${when.nth} fails exactly one call; times: ${when.times} contradicts it (drop one)`)
  if (raw.probability !== undefined) {
    const p = raw.probability
    if (typeof p === 'number' && p >= 0 && p <= 1) when.probability = p
    else issues.add(`${path}.probability`, `must be a number from 0 to 1 (0.3 = 30 %), got ${describe(p)}`)
  }
  if (raw.seed !== undefined) {
    const s = raw.seed
    if (raw.probability === undefined) issues.add(`${path}.seed`, 'has nothing to seed without probability')
    else if (typeof s === 'number' && Number.isSafeInteger(s) && s >= 0) when.seed = s
    else issues.add(`${path}.seed`, `must be a non-negative integer, got ${describe(s)}`)
  }
  return when
}
