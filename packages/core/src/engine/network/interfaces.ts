/**
 * Which interfaces each network rule acts on: the TC programs go on their union, a rule fires
 * only on its own (fl_net_dev.rules), and a shaping rule's qdiscs go on its own only.
 *   - `interface: 'eth0'` or a list: exactly those; `interface: '*'`: every interface that is up.
 *   - hosts (IPs, CIDRs, resolved names): where the routes send them, read with `ip route get`
 *     (loopback and the machine's own addresses: lo). A CIDR: the route of its first and last
 *     address, and every route inside it.
 *   - neither: drop, corrupt and duplicate (TC programs only, no qdisc) every interface that is
 *     up; delay and bandwidth lo only, so a rule never shapes the machine's NIC unless asked to.
 * Each interface's link-layer header length is read here too: Ethernet-like devices (Ethernet,
 * lo) carry 14 bytes before the IP header, L3 devices (tun, wireguard, ipip, sit, gre) none.
 */
import createDebug from 'debug'
import type { NormalizedAddress, NormalizedNetworkRule } from '../../config/types.js'
import { parseAddress } from '../../config/address.js'
import { prefixMask } from '../shared-layout.js'
import { FaultlineUnsupportedError } from '../errors.js'
import { runIproute } from '../state/iproute-runner.js'
import { netDevices } from '../../kernel/netdev.js'
import { isFaultlineIfb } from '../state/index.js'

const debug = createDebug('faultline:net')

export interface NetDevice {
  name: string
  ifindex: number
  /** Bytes before the IP header in a packet the TC programs see on it. */
  l2Len: number
  /** Bit i: config.network[i] applies on this interface. */
  rules: number
}

/** The link type (ARPHRD_*) -> bytes before the IP header. */
const L2_LEN: Record<number, number> = {
  1: 14, // ETHER (veth, bridges, wifi, macvlan, gretap)
  772: 14, // LOOPBACK: lo carries an Ethernet header of zeros
  65534: 0, // NONE: tun, wireguard
  768: 0, // IPIP
  769: 0, // TUNNEL6 (ip6tnl)
  776: 0, // SIT
  778: 0, // IPGRE
  823: 0, // IP6GRE
  519: 0, // RAWIP
  512: 0, // PPP
}


const isLoopback = (a: NormalizedAddress) =>
  a.family === 'inet' ? a.bytes[0] === 127 && a.prefixLen >= 8 : a.prefixLen === 128 && a.bytes.every((b, i) => b === (i === 15 ? 1 : 0))

function text(a: NormalizedAddress, last = false): string {
  const mask = prefixMask(a.bytes.length, a.prefixLen)
  const b = a.bytes.map((x, i) => (last ? (x & mask[i]!) | (~mask[i]! & 0xff) : x & mask[i]!))
  if (a.family === 'inet') return [...b].join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16))
  return groups.join(':')
}

interface Route { dst?: string; dev?: string; type?: string }

/** The interface a packet to `addr` leaves through (lo for the machine's own addresses). */
function routeDevice(addr: string): string | Error {
  const r = runIproute('ip', ['-j', 'route', 'get', addr])
  if (r.status !== 0) return new Error(r.stderr.trim() || `ip route get ${addr}: exit ${r.status}`)
  const route = (JSON.parse(r.stdout) as Route[])[0]
  return route?.type === 'local' ? 'lo' : route?.dev ?? new Error(`ip route get ${addr}: no device`)
}

/** Interfaces of the routes (every table) whose destination lies inside the CIDR. */
function routesInside(cidr: NormalizedAddress): string[] {
  const r = runIproute('ip', ['-j', cidr.family === 'inet' ? '-4' : '-6', 'route', 'show', 'table', 'all'])
  if (r.status !== 0) return []
  const out: string[] = []
  for (const route of JSON.parse(r.stdout) as Route[]) {
    if (!route.dev || !route.dst || route.dst === 'default') continue
    const dst = parseAddress(route.dst.includes('/') ? route.dst : `${route.dst}/${cidr.family === 'inet' ? 32 : 128}`)
    if (typeof dst === 'string' || dst.prefixLen < cidr.prefixLen) continue
    const mask = prefixMask(cidr.bytes.length, cidr.prefixLen)
    if (dst.bytes.every((b, i) => (b & mask[i]!) === (cidr.bytes[i]! & mask[i]!))) out.push(route.type === 'local' ? 'lo' : route.dev)
  }
  return out
}

/** The interfaces traffic to these addresses can leave through. */
function hostDevices(rule: NormalizedNetworkRule, addrs: NormalizedAddress[]): Set<string> {
  const out = new Set<string>()
  for (const a of addrs) {
    if (isLoopback(a)) {
      out.add('lo')
      continue
    }
    const full = a.prefixLen === a.bytes.length * 8
    const first = routeDevice(text(a))
    if (full && first instanceof Error) {
      throw new FaultlineUnsupportedError(`${rule.path}.hosts: ${text(a)}: no route (${first.message}), so no interface to act on; name one with interface:`)
    }
    const found = [first, ...(full ? [] : [routeDevice(text(a, true)), ...routesInside(a)])].filter((d): d is string => typeof d === 'string')
    if (!found.length) throw new FaultlineUnsupportedError(`${rule.path}.hosts: ${text(a)}/${a.prefixLen}: no route into it, so no interface to act on; name one with interface:`)
    for (const d of found) out.add(d)
  }
  return out
}

/**
 * The interfaces of the rules (index = the rule's index in config.network), with the addresses
 * each rule's hosts resolved to. Throws FaultlineUnsupportedError naming the rule when one of
 * its interfaces does not exist, has a link type faultline cannot parse, or a host has no route.
 * everyUp: also every interface that is up, for no network rule (DNS rules use them).
 * loByDefault: a rule with neither hosts nor interface acts on lo only (a kind that puts qdiscs on them: shaping).
 */
export function selectInterfaces(rules: NormalizedNetworkRule[], resolved: NormalizedAddress[][], everyUp = false, loByDefault: (rule: NormalizedNetworkRule) => boolean = () => false): NetDevice[] {
  const all = netDevices().filter((d) => !isFaultlineIfb(d.name))
  const byName = new Map<string, NetDevice>()
  const add = (rule: NormalizedNetworkRule, index: number, name: string, explicit: boolean, field = "interface") => {
    const d = all.find((x) => x.name === name)
    if (!d) throw new FaultlineUnsupportedError(`${rule.path}.${field}: ${name}: no such interface (here: ${all.map((x) => x.name).join(', ')})`)
    const l2Len = L2_LEN[d.type]
    if (l2Len === undefined) {
      if (explicit) throw new FaultlineUnsupportedError(`${rule.path}.${field}: ${name} has link type ${d.type} (ARPHRD), whose packets faultline cannot parse; supported: Ethernet-like devices and L3 tunnels (tun, wireguard, ipip, sit, gre)`)
      debug('%s: link type %d, skipped', name, d.type)
      return
    }
    const dev = byName.get(name) ?? { name, ifindex: d.ifindex, l2Len, rules: 0 }
    dev.rules |= 1 << index
    byName.set(name, dev)
  }
  rules.forEach((rule, i) => {
    const names = rule.interface
    if (names && names[0] !== '*') for (const n of names) add(rule, i, n, true)
    else if (names || (!resolved[i]?.length && !loByDefault(rule))) for (const d of all) d.up && add(rule, i, d.name, false)
    else if (!resolved[i]?.length) add(rule, i, 'lo', true)
    else for (const n of hostDevices(rule, resolved[i]!)) add(rule, i, n, true, "hosts (the route's interface)")
  })
  // DNS rules (everyUp): the resolver may be behind any interface; no network rule bits.
  if (everyUp) {
    for (const d of all) {
      const l2Len = L2_LEN[d.type]
      if (d.up && l2Len !== undefined && !byName.has(d.name)) byName.set(d.name, { name: d.name, ifindex: d.ifindex, l2Len, rules: 0 })
    }
  }
  const out = [...byName.values()]
  debug('interfaces: %o', out.map((d) => `${d.name}(l2 ${d.l2Len}, rules 0x${d.rules.toString(16)})`))
  return out
}
