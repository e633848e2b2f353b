/**
 * The network fault family: marks sockets of the targets (cgroup hooks on the hook cgroup, target-cgroup.ts),
 * writes rules and host tries, and attaches the TC programs on the interfaces the targeted traffic
 * can use (every interface that is up, `lo` included, or the rule's `interface`): as tcx links,
 * owned by this process like everything else, or on kernels without tcx as cls_bpf filters,
 * tagged with this process's owner id and swept instead (engine/state).
 * Host names, interfaces, qdiscs and clsact qdiscs are all settled in prepare, before any fault is live.
 */
import { spawnSync } from 'node:child_process'
import createDebug from 'debug'
import { helperEnv, helperPath } from '../../helpers.js'
import type { FailureConfig, NormalizedAddress } from '../../config/types.js'
import { parseAddress } from '../../config/address.js'
import { attachClsBpf, attachTcx, type BpfObject } from '../../libbpf/index.js'
import { chooseNetMechanism } from './mechanism.js'
import { selectInterfaces, type NetDevice } from './interfaces.js'
import { commBits, commMask, planComms } from '../comms.js'
import { attachCgroupHook, rootCgroup } from '../target-cgroup.js'
import { FaultlineUnsupportedError } from '../errors.js'
import { dropKeptLinks } from '../kept-links.js'
import type { FaultFamily, FamilyPlan, Refusal } from '../family.js'
import type { Instance } from '../instance.js'
import { SIZEOF, decodeCounters, u32Key } from '../shared-layout.js'
import { FL_TC_PRIORITY, ownerId, prepareClsacts, releaseClsact, removeOwnerRecord, withTcLock } from '../state/index.js'
import { encodeLpmKey, encodeNetDev, encodeNetRule, encodeNetState } from './net-layout.js'
import { classIdOf, isShaping, planShapingRule, setUpShaping, type Shaping } from './shaping.js'
import { isReset, resetRefusal, ResetArm } from './reset.js'
import { clearDnsRules, readDnsCounters, writeDnsRules } from './dns.js'

const debug = createDebug('faultline:net')
/** Keys of the tcx links kept between windows (engine/kept-links.ts) start with this. */
const TCX_KEY = 'tcx '
const MARK_PROGRAMS = ['fl_net_mark_create', 'fl_net_mark_connect4', 'fl_net_mark_connect6']
/** UDP sockets made before the window and never connected are marked at sendmsg (a hook of UDP only). */
const UDP_MARK_PROGRAMS = ['fl_net_mark_sendmsg4', 'fl_net_mark_sendmsg6']
/** While shaping TCP: the targets' listeners get the clamped MSS too (connect does it for clients). */
const MSS_PROGRAMS = ['fl_net_mark_bind4', 'fl_net_mark_bind6']

/** Why these rules cannot be armed here, per rule; empty when they can. */
export function planNetwork(config: FailureConfig): Refusal[] {
  const refused: Refusal[] = []
  if (!config.network.length && !config.dns.length) return refused // and probe nothing
  refused.push(...planComms(config))
  const mechanism = chooseNetMechanism(config.network)
  // DNS rules ride on the same TC programs (bpf/include/dns_fault.h).
  if (!mechanism.ok) for (const r of config.dns) refused.push({ path: r.path, name: r.name, reason: `DNS rules act in the TC programs: ${mechanism.reason}` })
  for (const r of config.network) {
    const ruleRefusal = isShaping(r) ? planShapingRule(r) : isReset(r) ? resetRefusal() : undefined
    if (ruleRefusal) {
      refused.push({ path: r.path, name: r.name, reason: ruleRefusal })
    } else if (!mechanism.ok) {
      refused.push({ path: r.path, name: r.name, reason: mechanism.reason })
    }
  }
  return refused
}

/**
 * The TC programs an interface needs: a direction's where a rule acting on the interface has that
 * direction (the programs skip rules of the other one), egress where DNS rules act (on queries),
 * both for a reset rule (it counts the bytes of its connection both ways).
 */
export function directionsOf(config: FailureConfig, dev: NetDevice): ('egress' | 'ingress')[] {
  const rules = config.network.filter((_, i) => (dev.rules >> i) & 1)
  const both = rules.some(isReset)
  const egress = both || config.dns.length > 0 || rules.some((r) => r.direction !== 'ingress')
  const ingress = both || rules.some((r) => r.direction !== 'egress')
  return [...(egress ? ['egress' as const] : []), ...(ingress ? ['ingress' as const] : [])]
}

/** Host names resolve once, at arming (getent: the system resolver, synchronously), in prepare. */
function resolveHost(name: string): NormalizedAddress[] {
  const getent = helperPath('getent')
  const r = getent ? spawnSync(getent, ['ahosts', name], { encoding: 'utf8', env: helperEnv() }) : { error: new Error('not found in the system directories'), stdout: '' }
  if (r.error) throw new FaultlineUnsupportedError(`network rule host ${name}: cannot run getent (${r.error.message})`)
  const ips = [...new Set((r.stdout ?? '').split('\n').map((l) => l.split(/\s+/)[0]).filter((x): x is string => !!x))]
  if (!ips.length) throw new FaultlineUnsupportedError(`network rule host ${name}: does not resolve`)
  return ips.map((ip) => parseAddress(ip)).filter((a): a is NormalizedAddress => typeof a !== 'string')
}

export const networkFamily: FaultFamily = {
  name: 'network',
  plan(config, inst): Refusal[] | FamilyPlan {
    const refusals = planNetwork(config)
    if (refusals.length) return refusals
    if (!config.network.length && !config.dns.length) return { rules: [], routes: [], warnings: [], prepare() {}, write() {}, attach() {}, clear() {} }
    const choice = chooseNetMechanism(config.network)
    if (!choice.ok) return [{ path: 'network', name: '', reason: choice.reason }] // planNetwork refused it already
    const { mechanism } = choice

    // What prepare settles, and clear undoes.
    let net: BpfObject | undefined
    let resolved: NormalizedAddress[][] = []
    let devices: NetDevice[] = []
    let shaping: Shaping | undefined
    let reset: ResetArm | undefined
    let clsacts = false
    let cleared = false
    const counters = () => inst.fault('net').map('fl_net_counters')

    return {
      warnings: [],
      // DNS rules have no route of their own: they ride on these rules' TC programs.
      routes: config.network.map((r) => ({ path: r.path, name: r.name, acts: `net:${r.action}`, mechanism })),
      rules: config.network.map((r, i) => ({
        name: r.name,
        syscall: `net:${r.action}`,
        mechanism,
        read: () => decodeCounters(counters().lookup(u32Key(i)) ?? Buffer.alloc(SIZEOF.fl_counters)),
      })).concat(config.dns.map((r, i) => ({ name: r.name, syscall: `dns:${r.answer}`, mechanism, read: () => readDnsCounters(inst.fault('net'), i) }))),
      prepare(tx) {
        net = inst.fault('net')
        resolved = config.network.map((r) => [...r.hosts, ...r.hostnames.flatMap(resolveHost)].filter((a): a is NormalizedAddress => typeof a !== 'string'))
        devices = selectInterfaces(config.network, resolved, config.dns.length > 0)
        const shaped = config.network.map((rule, index) => ({ rule, index })).filter(({ rule }) => isShaping(rule))
        if (shaped.length) shaping = setUpShaping(shaped, devices, tx)
        if (config.network.some(isReset)) reset = tx.step('load the connection reset iterator', () => new ResetArm(config.network, net!, inst))
        if (mechanism === 'cls-bpf') {
          // tcx programs kept from an earlier window read the same maps: they would act on every
          // packet a second time (a drop counted twice, a corruption undone). They go first.
          const dropped = dropKeptLinks(TCX_KEY)
          if (dropped) debug('released %d kept tcx link(s): this window uses cls_bpf', dropped)
          clsacts = true
          tx.step('create clsact qdiscs', () => prepareClsacts(devices))
        }
        rootCgroup()
      },
      write(tx, armedNs) {
        const obj = net!
        tx.step('write the network rule maps', () => {
          const hosts = obj.map('fl_net_hosts')
          const allow = obj.map('fl_net_allow')
          const devMap = obj.map('fl_net_devs')
          hosts.clear()
          allow.clear()
          devMap.clear()
          const bits = commBits(config)
          config.network.forEach((r, i) => {
            for (const a of resolved[i]!) hosts.update(encodeLpmKey(i, a), Buffer.from([1]))
            for (const a of r.allow) allow.update(encodeLpmKey(i, a), Buffer.from([1]))
            obj.map('fl_net_counters').update(u32Key(i), Buffer.alloc(SIZEOF.fl_counters))
            obj.map('fl_net_draws').update(u32Key(i), Buffer.alloc(8))
            obj.map('fl_net_rules').update(u32Key(i), encodeNetRule(r, resolved[i]!.length > 0, isShaping(r) ? classIdOf(i) : 0, commMask(r.comm, bits)))
          })
          for (const d of devices) devMap.update(u32Key(d.ifindex), encodeNetDev(d.l2Len, d.rules))
          obj.map('fl_net_state').update(u32Key(0), encodeNetState(armedNs, config.network.length, shaping))
          reset?.write(armedNs)
          if (config.dns.length) writeDnsRules(obj, config.dns, armedNs)
        })
      },
      attach(tx) {
        const obj = net!
        // Each hook type attached switches on its static key for the whole machine, twice per
        // window (on, then off): only the types the rules need.
        const udp = config.dns.length > 0 || config.network.some((r) => r.protocol !== 'tcp')
        for (const p of [...MARK_PROGRAMS, ...(udp ? UDP_MARK_PROGRAMS : []), ...(shaping?.tcpMss ? MSS_PROGRAMS : [])]) attachCgroupHook(tx, obj.program(p))
        for (const dev of devices) {
          for (const direction of directionsOf(config, dev)) {
            const opts = { program: obj.program(`fl_net_${direction}`), ifindex: dev.ifindex, direction, interfaceName: dev.name }
            // tcx links are kept between armings (an idle program returns after one lookup, and
            // fl_net_devs gates each interface); cls_bpf filters outlive the process: per arming.
            tx.attach(
              `${mechanism} ${direction} on ${dev.name}`,
              () => (mechanism === 'tcx' ? attachTcx(opts) : attachClsBpf({ ...opts, id: { handle: ownerId(), priority: FL_TC_PRIORITY } })),
              mechanism === 'tcx' ? { keep: `${TCX_KEY}${direction} ifindex ${dev.ifindex} (${dev.name})` } : {},
            )
          }
        }
        reset?.start()
        debug('armed %d network and %d dns rule(s) on %d interface(s) (%s)', config.network.length, config.dns.length, devices.length, mechanism)
      },
      stop() {
        try {
          net?.map('fl_net_state').update(u32Key(0), encodeNetState(0n, 0))
        } catch (err) {
          debug('stop the network rules: %s', (err as Error).message)
        }
      },
      clear() {
        if (cleared) return
        cleared = true
        reset?.clear()
        try {
          if (net) {
            net.map('fl_net_state').update(u32Key(0), encodeNetState(0n, 0))
            clearDnsRules(net, config.dns.length)
            for (const m of [net.map('fl_net_rules'), net.map('fl_net_counters'), net.map('fl_net_draws')]) {
              config.network.forEach((_, i) => m.update(u32Key(i), Buffer.alloc(m.valueSize)))
            }
            net.map('fl_net_hosts').clear()
            net.map('fl_net_allow').clear()
            net.map('fl_net_devs').clear()
          }
        } catch (err) {
          debug('clear the network maps: %s', (err as Error).message)
        }
        try {
          shaping?.remove()
          if (clsacts) withTcLock(() => devices.forEach((d) => releaseClsact(d, 'mine')), { removal: true })
          if (shaping || clsacts) removeOwnerRecord()
        } catch (err) {
          debug('clear the network state: %s; a later sweep removes what is left', (err as Error).message)
        }
      },
    }
  },
}
