/**
 * Arms the network rules: marks sockets of the targets (cgroup hooks on the cgroup v2 root),
 * writes rules and host tries, and attaches the TC programs on the interfaces the targeted traffic
 * can use (engine/network/interfaces.ts): as tcx links,
 * owned by this process like everything else, or on kernels without tcx as cls_bpf filters,
 * which are tagged and swept instead (libbpf/link/cls-bpf.ts).
 */
import { spawnSync } from 'node:child_process'
import createDebug from 'debug'
import type { FailureConfig, NormalizedAddress } from '../../config/types.js'
import { parseAddress } from '../../config/address.js'
import { attachCgroup, type Link } from '../../libbpf/index.js'
import type { NetMechanism } from '../../config/network.js'
import { chooseNetMechanism, tcAttacher } from './mechanism.js'
import { selectInterfaces } from './interfaces.js'
import { commBits, commMask, planComms } from '../comms.js'
import { rootCgroup } from '../backends/cgroup.js'
import { FaultlineUnsupportedError } from '../errors.js'
import type { Instance } from '../instance.js'
import { SIZEOF, decodeCounters, u32Key, type RuleCounters } from '../layout.js'
import { FL_MAX_NET_RULES, encodeLpmKey, encodeNetDev, encodeNetRule, encodeNetState } from './layout.js'
import { classIdOf, isShaping, planShapingRule, setUpShaping, sweepStaleShaping, type Shaping } from './shaping.js'

const debug = createDebug('faultline:net')
const MARK_PROGRAMS = ['fl_net_mark_create', 'fl_net_mark_connect4', 'fl_net_mark_connect6', 'fl_net_mark_sendmsg4', 'fl_net_mark_sendmsg6']
/** While shaping TCP: the targets' listeners get the clamped MSS too (connect does it for clients). */
const MSS_PROGRAMS = ['fl_net_mark_bind4', 'fl_net_mark_bind6']

/** Why these rules cannot be armed here, per rule; empty when they can. */
export function planNetwork(config: FailureConfig): { path: string; name: string; reason: string }[] {
  const refused: { path: string; name: string; reason: string }[] = []
  if (config.network.length > FL_MAX_NET_RULES) refused.push({ path: 'network', name: '', reason: `at most ${FL_MAX_NET_RULES} network rules` })
  if (!config.network.length) return refused // and probe nothing
  refused.push(...planComms(config))
  const mechanism = chooseNetMechanism(config.network)
  for (const r of config.network) {
    const shapingRefusal = isShaping(r) ? planShapingRule(r) : undefined
    if (shapingRefusal) {
      refused.push({ path: r.path, name: r.name, reason: shapingRefusal })
    } else if (!mechanism.ok) {
      refused.push({ path: r.path, name: r.name, reason: mechanism.reason })
    }
  }
  return refused
}

/** Host names resolve once, at arming (getent: the system resolver, synchronously). */
function resolveHost(name: string): ReturnType<typeof parseAddress>[] {
  const r = spawnSync('getent', ['ahosts', name], { encoding: 'utf8' })
  const ips = [...new Set(r.stdout.split('\n').map((l) => l.split(/\s+/)[0]).filter((x): x is string => !!x))]
  if (!ips.length) throw new FaultlineUnsupportedError(`network rule host ${name}: does not resolve`)
  return ips.map((ip) => parseAddress(ip))
}

export interface ArmedNetwork {
  links: Link[]
  rules: { name: string; syscall: string; mechanism: NetMechanism; read(): RuleCounters }[]
  clear(): void
}

export function armNetwork(inst: Instance, config: FailureConfig, armedNs: bigint): ArmedNetwork {
  const net = inst.fault('net')
  const rulesMap = net.map('fl_net_rules')
  const counters = net.map('fl_net_counters')
  const state = net.map('fl_net_state')
  const hosts = net.map('fl_net_hosts')
  const allow = net.map('fl_net_allow')
  const devMap = net.map('fl_net_devs')
  sweepStaleShaping() // what a killed faultline process left: qdiscs and IFB devices are not links
  const choice = chooseNetMechanism(config.network)
  if (!choice.ok) throw new FaultlineUnsupportedError(choice.reason) // planNetwork refused it already
  const { mechanism } = choice
  hosts.clear()
  allow.clear()
  devMap.clear()
  const bits = commBits(config)
  const resolved = config.network.map((r) => [...r.hosts, ...r.hostnames.flatMap(resolveHost)].filter((a): a is NormalizedAddress => typeof a !== 'string'))
  const devices = selectInterfaces(config.network, resolved)
  config.network.forEach((r, i) => {
    for (const a of resolved[i]!) hosts.update(encodeLpmKey(i, a), Buffer.from([1]))
    for (const a of r.allow) allow.update(encodeLpmKey(i, a), Buffer.from([1]))
    counters.update(u32Key(i), Buffer.alloc(SIZEOF.fl_counters))
    rulesMap.update(u32Key(i), encodeNetRule(r, resolved[i]!.length > 0, isShaping(r) ? classIdOf(i) : 0, commMask(r.comm, bits)))
  })
  for (const d of devices) devMap.update(u32Key(d.ifindex), encodeNetDev(d.l2Len, d.rules))
  const links: Link[] = []
  let shaping: Shaping | undefined
  try {
    const shaped = config.network.map((rule, index) => ({ rule, index })).filter(({ rule }) => isShaping(rule))
    if (shaped.length) shaping = setUpShaping(shaped, devices)
    const cg = rootCgroup()
    for (const p of [...MARK_PROGRAMS, ...(shaping?.tcpMss ? MSS_PROGRAMS : [])]) links.push(attachCgroup({ program: net.program(p), cgroupFd: cg.fd, cgroupPath: cg.path }))
    const attachTc = tcAttacher(mechanism)
    for (const dev of devices) {
      links.push(attachTc({ program: net.program('fl_net_egress'), ifindex: dev.ifindex, direction: 'egress', interfaceName: dev.name }))
      links.push(attachTc({ program: net.program('fl_net_ingress'), ifindex: dev.ifindex, direction: 'ingress', interfaceName: dev.name }))
    }
    state.update(u32Key(0), encodeNetState(armedNs, config.network.length, shaping))
  } catch (err) {
    for (const l of links.reverse()) l.destroy()
    devMap.clear()
    shaping?.remove()
    throw err
  }
  debug('armed %d network rule(s) with %d link(s) (%s)', config.network.length, links.length, mechanism)
  return {
    links,
    rules: config.network.map((r, i) => ({
      name: r.name,
      syscall: `net:${r.action}`,
      mechanism,
      read: () => decodeCounters(counters.lookup(u32Key(i)) ?? Buffer.alloc(SIZEOF.fl_counters)),
    })),
    clear: () => {
      state.update(u32Key(0), encodeNetState(0n, 0))
      devMap.clear()
      shaping?.remove()
    },
  }
}
