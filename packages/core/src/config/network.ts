/**
 * The `network` section: packet faults for the targeted processes' traffic. Validated like the
 * syscall rules: every problem at once, each naming its field.
 */
import { describe, MAX_COUNT, MAX_NAME_LENGTH } from './describe.js'
import type { NormalizedAddress, NormalizedWhen } from './rule-parts.js'
import type { ConfigIssue } from './errors.js'
import { parseAddress } from './address.js'
import { parseDuration } from './duration.js'
import { didYouMean } from './suggest.js'

export const NET_ACTIONS = ['drop', 'corrupt', 'duplicate', 'delay', 'bandwidth', 'reset'] as const
export const NET_DIRECTIONS = ['egress', 'ingress', 'both'] as const
export const NET_PROTOCOLS = ['tcp', 'udp', 'icmp', 'icmpv6'] as const
/** How the TC programs attach: tcx links (kernel >= 6.6), or clsact + cls_bpf filters. */
export const NET_MECHANISMS = ['tcx', 'cls-bpf'] as const
export type NetMechanism = (typeof NET_MECHANISMS)[number]
export const NET_KEYS = ['name', 'action', 'direction', 'protocol', 'port', 'ports', 'hosts', 'allow', 'interface', 'stolen', 'delay', 'jitter', 'rate', 'when', 'comm', 'mechanism', 'after_bytes']
export const NET_WHEN_KEYS = ['after', 'nth', 'times', 'probability', 'seed']

export interface NormalizedNetworkRule {
  name: string
  action: (typeof NET_ACTIONS)[number]
  direction: (typeof NET_DIRECTIONS)[number]
  protocol?: (typeof NET_PROTOCOLS)[number]
  ports: number[]
  /** IPs / CIDRs, and host names to resolve at arming. */
  hosts: NormalizedAddress[]
  hostnames: string[]
  allow: NormalizedAddress[]
  /** The rule's interfaces: names, or ['*'] for every interface that is up; undefined = chosen
   * from the rule's hosts (engine/network/interfaces.ts). */
  interface?: string[]
  /** A pinned attachment; undefined = tcx where the kernel has it, else cls-bpf. */
  mechanism?: NetMechanism
  /** drop: report success to the sender (TC_ACT_STOLEN) instead of an error. */
  stolen: boolean
  delayMs: number
  jitterMs: number
  /** bandwidth, bits per second. */
  rateBps: number
  when: NormalizedWhen
  /** Minderbinder rules name their processes. */
  comm?: string[]
  /** reset: the payload bytes (in the rule's directions) after which the connection is reset; 0 = at `when.after`. */
  afterBytes: number
  path: string
}

/** IFNAMSIZ less the NUL; and the kernel's comm, TASK_COMM_LEN less the NUL. */
export const IFNAME_MAX = 15
const COMM_BYTES = 15

/** Why `name` cannot be a Linux interface name (the kernel's dev_valid_name), or undefined. */
export function interfaceNameProblem(name: string): string | undefined {
  if (!name) return 'must be an interface name such as "eth0"'
  if (Buffer.byteLength(name) > IFNAME_MAX) return `"${name}" is longer than ${IFNAME_MAX} bytes, the longest interface name Linux allows`
  if (name === '.' || name === '..' || /[/:\s]/.test(name)) return `"${name}" is not an interface name: no "/", ":" or spaces, and not "." or ".."`
  return undefined
}

/** Why `name` is not a host name (RFC 1123: dot-separated labels of 1..63 letters, digits, hyphens), or undefined. */
export function hostNameProblem(name: string): string | undefined {
  const text = name.endsWith('.') ? name.slice(0, -1) : name
  if (text.length > 253) return `"${name.slice(0, 40)}...": a host name has at most 253 characters`
  const label = text.split('.').find((l) => !/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(l))
  if (label !== undefined) return `${JSON.stringify(name)} is not a host name: label ${JSON.stringify(label)} must be 1..63 letters, digits or hyphens, not starting or ending with a hyphen`
  return undefined
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
export const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, bps: 8, kbps: 8e3, mbps: 8e6 }

export function validateNetworkRules(raw: unknown[], issues: ConfigIssue[]): NormalizedNetworkRule[] {
  const out: NormalizedNetworkRule[] = []
  const names = new Set<string>()
  let pinned: { path: string; mechanism: NetMechanism } | undefined
  raw.forEach((r, i) => {
    const path = `network[${i}]`
    const add = (field: string, message: string) => issues.push({ path: field ? `${path}.${field}` : path, message })
    if (!isObj(r)) return add('', 'must be a rule object { name, action, direction?, ... }')
    const before = issues.length
    for (const k of Object.keys(r)) if (!NET_KEYS.includes(k)) add(k, `unknown key${didYouMean(k, NET_KEYS)} (allowed: ${NET_KEYS.join(', ')})`)
    if (typeof r.name !== 'string' || !r.name.trim()) add('name', 'must be a non-empty string')
    else if (r.name.length > MAX_NAME_LENGTH) add('name', `${describe(r.name)} is longer than ${MAX_NAME_LENGTH} characters`)
    else if (names.has(r.name)) add('name', `"${r.name}" is used twice; rule names must be unique`)
    else names.add(r.name)
    const action = r.action as NormalizedNetworkRule['action']
    if (!NET_ACTIONS.includes(action)) add('action', `${JSON.stringify(r.action)} is not an action; allowed: ${NET_ACTIONS.join(', ')}`)
    // A reset counts the connection's bytes both ways unless told otherwise.
    const direction = (r.direction ?? (action === 'reset' ? 'both' : 'egress')) as NormalizedNetworkRule['direction']
    if (!NET_DIRECTIONS.includes(direction)) add('direction', `${JSON.stringify(r.direction)} is not a direction; allowed: ${NET_DIRECTIONS.join(', ')}`)
    if (r.protocol !== undefined && !NET_PROTOCOLS.includes(r.protocol as never)) add('protocol', `${JSON.stringify(r.protocol)} is not a protocol; allowed: ${NET_PROTOCOLS.join(', ')}`)
    const ports: number[] = []
    if (r.port !== undefined && r.ports !== undefined) add('ports', 'give port or ports, not both')
    for (const [key, list] of [['port', r.port === undefined ? [] : [r.port]], ['ports', r.ports ?? []]] as const) {
      if (!Array.isArray(list)) { add(key, 'must be a list of ports'); continue }
      list.forEach((p: unknown) => (typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535 ? ports.push(p) : add(key, `${JSON.stringify(p)} is not a port (1..65535)`)))
    }
    if (ports.length > 8) add('ports', 'at most 8 ports per rule')
    const addrList = (key: 'hosts' | 'allow', names?: string[]) => {
      const v = r[key]
      const res: NormalizedAddress[] = []
      if (v === undefined) return res
      if (!Array.isArray(v)) { add(key, 'must be a list of IPs, CIDRs or host names'); return res }
      v.forEach((h: unknown, j: number) => {
        if (typeof h !== 'string' || !h) return add(`${key}[${j}]`, 'must be an IP, a CIDR or a host name')
        const a = parseAddress(h)
        if (typeof a !== 'string') res.push(a)
        else if (names && /^[a-zA-Z0-9.-]+$/.test(h) && !/^[\d.]+$/.test(h)) {
          const bad = hostNameProblem(h)
          if (bad) add(`${key}[${j}]`, bad)
          else names.push(h)
        } else add(`${key}[${j}]`, a)
      })
      return res
    }
    const hostnames: string[] = []
    const hosts = addrList('hosts', hostnames)
    const allow = addrList('allow')
    const ms = (key: string) => {
      if (r[key] === undefined) return 0
      const d = parseDuration(r[key])
      if (typeof d === 'string') { add(key, d); return 0 }
      return d
    }
    const delayMs = ms('delay')
    const jitterMs = ms('jitter')
    if (action === 'delay' && !delayMs) add('delay', 'a delay rule needs delay (e.g. "100ms")')
    if (action !== 'delay' && (r.delay !== undefined || r.jitter !== undefined)) add(r.delay !== undefined ? 'delay' : 'jitter', `applies to action delay only, not ${action}`)
    let rateBps = 0
    if (r.rate !== undefined) {
      const m = typeof r.rate === 'string' ? /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|bps|kbps|mbps)$/.exec(r.rate) : null
      if (!m) add('rate', `${JSON.stringify(r.rate)} is not a rate; e.g. "1mbit", "500kbit" (units: ${Object.keys(RATE_UNITS).join(', ')})`)
      else rateBps = Number(m[1]) * RATE_UNITS[m[2]!]!
    }
    if (action === 'bandwidth' && !rateBps && r.rate === undefined) add('rate', 'a bandwidth rule needs rate (e.g. "1mbit")')
    if (r.rate !== undefined && action !== 'bandwidth' && action !== 'delay') add('rate', `applies to actions bandwidth and delay only, not ${action}`)
    if (rateBps && rateBps < 8000) add('rate', `${JSON.stringify(r.rate)} is below the smallest rate, 8kbit`)
    if (r.stolen !== undefined && (typeof r.stolen !== 'boolean' || action !== 'drop')) add('stolen', 'is a boolean, for action drop only')
    // one name, a list of names, or '*' (every interface that is up) on its own
    const ifaces: unknown[] | undefined = r.interface === undefined ? undefined : Array.isArray(r.interface) ? r.interface : [r.interface]
    if (ifaces) {
      if (!ifaces.length || (ifaces.includes('*') && ifaces.length > 1)) {
        add('interface', `must be an interface name, a list of them, or '*' (every interface that is up), got ${JSON.stringify(r.interface)}`)
      } else {
        ifaces.forEach((x, j) => {
          const where = Array.isArray(r.interface) ? `interface[${j}]` : 'interface'
          const bad = typeof x !== 'string' ? `must be an interface name such as "eth0", got ${JSON.stringify(x)}` : x === '*' ? undefined : interfaceNameProblem(x)
          if (bad) add(where, bad)
        })
      }
    }
    if (r.comm !== undefined) {
      if (!Array.isArray(r.comm) || !r.comm.length) add('comm', `must be an array of process names (at least one), got ${JSON.stringify(r.comm)}`)
      else r.comm.forEach((c: unknown, j: number) => {
        if (typeof c !== 'string' || !c) add(`comm[${j}]`, `must be a non-empty process name, got ${JSON.stringify(c)}`)
        else if (Buffer.byteLength(c) > COMM_BYTES) add(`comm[${j}]`, `"${c}" is longer than ${COMM_BYTES} bytes; the kernel keeps only "${c.slice(0, COMM_BYTES)}"`)
      })
    }
    const mechanism = r.mechanism as NetMechanism | undefined
    if (mechanism !== undefined && !NET_MECHANISMS.includes(mechanism)) {
      add('mechanism', `${JSON.stringify(r.mechanism)} is not a network mechanism; allowed: ${NET_MECHANISMS.join(', ')} (or leave it out: tcx where the kernel has it, else cls-bpf)`)
    } else if (mechanism !== undefined) {
      // All network rules share the TC programs, which attach one way.
      if (pinned && pinned.mechanism !== mechanism) add('mechanism', `${JSON.stringify(mechanism)} contradicts ${pinned.path}.mechanism ${JSON.stringify(pinned.mechanism)}: the network rules of one config share their TC programs, so they all attach the same way`)
      pinned ??= { path, mechanism }
    }
    const when: NormalizedWhen = { afterMs: 0, nth: 0, times: 0, probability: 1, seed: undefined }
    if (r.when !== undefined) {
      if (!isObj(r.when)) add('when', `must be an object with ${NET_WHEN_KEYS.join(', ')}`)
      else {
        for (const k of Object.keys(r.when)) if (!NET_WHEN_KEYS.includes(k)) add(`when.${k}`, `unknown key${didYouMean(k, NET_WHEN_KEYS)} (allowed: ${NET_WHEN_KEYS.join(', ')})`)
        const w = r.when
        if (w.after !== undefined) { const d = parseDuration(w.after); if (typeof d === 'string') add('when.after', d); else when.afterMs = d }
        // nth counts connections (flows), not packets: bpf/include/flows.h.
        if (w.nth !== undefined) { if (typeof w.nth === 'number' && Number.isInteger(w.nth) && w.nth > 0 && w.nth <= MAX_COUNT) when.nth = w.nth; else add('when.nth', `must be a positive integer up to ${MAX_COUNT} (the nth matching connection), got ${JSON.stringify(w.nth)}`) }
        if (w.times !== undefined) { if (typeof w.times === 'number' && Number.isInteger(w.times) && w.times > 0 && w.times <= MAX_COUNT) when.times = w.times; else add('when.times', `must be a positive integer up to ${MAX_COUNT}`) }
        if (w.probability !== undefined) { if (typeof w.probability === 'number' && w.probability >= 0 && w.probability <= 1) when.probability = w.probability; else add('when.probability', 'must be a number from 0 to 1') }
        if (w.seed !== undefined) { if (w.probability === undefined) add('when.seed', 'has nothing to seed without probability'); else if (typeof w.seed === 'number' && Number.isSafeInteger(w.seed) && w.seed >= 0) when.seed = w.seed; else add('when.seed', 'must be a non-negative integer') }
      }
    }
    const afterBytes = validateReset(r, action, add)
    if (issues.length > before) return
    out.push({
      name: r.name as string, action, direction, ...(r.protocol || action === 'reset' ? { protocol: (r.protocol ?? 'tcp') as NormalizedNetworkRule['protocol'] } : {}),
      ports, hosts, hostnames, allow, ...(ifaces ? { interface: ifaces as string[] } : {}), ...(mechanism ? { mechanism } : {}), stolen: r.stolen === true,
      delayMs, jitterMs, rateBps, when, ...(Array.isArray(r.comm) ? { comm: r.comm as string[] } : {}), afterBytes, path,
    })
  })
  return out
}

/** What only action reset takes (after_bytes) and what it cannot (UDP, ICMP, probability); returns after_bytes. */
function validateReset(r: Obj, action: string, add: (field: string, message: string) => void): number {
  if (action !== 'reset') {
    if (r.after_bytes !== undefined) add('after_bytes', `applies to action reset only, not ${action}`)
    return 0
  }
  if (r.protocol !== undefined && r.protocol !== 'tcp') add('protocol', `action reset aborts TCP connections only; got ${JSON.stringify(r.protocol)} (use protocol: tcp, or leave it out)`)
  const w = isObj(r.when) ? r.when : {}
  for (const k of ['probability', 'seed']) if (w[k] !== undefined) add(`when.${k}`, 'does not apply to action reset (a connection is reset once it is due: use when.after, when.times, after_bytes)')
  if (r.after_bytes === undefined) return 0
  const n = r.after_bytes
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    add('after_bytes', `must be a whole number of bytes (0 or more), got ${JSON.stringify(n)}`)
    return 0
  }
  return n
}
