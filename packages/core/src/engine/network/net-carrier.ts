/**
 * The network family: the shared part of every network fault kind (net-kind.ts; the kinds are
 * engine/packet, engine/shaping, engine/reset, engine/dns, listed in families.ts). It marks
 * sockets of the targets (cgroup hooks on the hook cgroup, target-cgroup.ts), writes the rules
 * of config.network and their host tries into net.bpf.o's maps (one step, every kind's rules),
 * and attaches the TC programs once on the interfaces the targeted traffic
 * can use (every interface that is up, `lo` included, or the rule's `interface`): as tcx links,
 * owned by this process like everything else, or on kernels without tcx as cls_bpf filters,
 * tagged with this process's owner id and swept instead (engine/state).
 * Host names, interfaces, qdiscs and clsact qdiscs are all settled in prepare, before any fault is live.
 */
import { spawnSync } from 'node:child_process'
import createDebug from 'debug'
import { helperEnv, helperPath } from '../../helpers.js'
import type { FailureConfig, NormalizedAddress, NormalizedNetworkRule } from '../../config/types.js'
import { parseAddress } from '../../config/address.js'
import { attachClsBpf, attachTcx, type BpfObject } from '../../libbpf/index.js'
import { chooseNetMechanism } from './mechanism.js'
import { selectInterfaces, type NetDevice } from './interfaces.js'
import { commBits, commMask, planComms } from '../comms.js'
import { attachCgroupHook, rootCgroup } from '../target-cgroup.js'
import { FaultlineUnsupportedError } from '../errors.js'
import { dropKeptLinks } from '../kept-links.js'
import type { FaultFamily, FamilyPlan, HandleRule, Refusal } from '../family.js'
import type { Instance } from '../instance.js'
import { SIZEOF, decodeCounters, u32Key } from '../shared-layout.js'
import { FL_TC_PRIORITY, ownerId, prepareClsacts, releaseClsact, removeOwnerRecord, withTcLock } from '../state/index.js'
import { encodeLpmKey, encodeNetDev, encodeNetRule, encodeNetState } from './net-layout.js'
import type { NetKind, NetKindArm, NetShapingState } from './net-kind.js'

const debug = createDebug('faultline:net')
/** Keys of the tcx links kept between windows (engine/kept-links.ts) start with this. */
const TCX_KEY = 'tcx '
const MARK_PROGRAMS = ['fl_net_mark_create', 'fl_net_mark_connect4', 'fl_net_mark_connect6']
/** UDP sockets made before the window and never connected are marked at sendmsg (a hook of UDP only). */
const UDP_MARK_PROGRAMS = ['fl_net_mark_sendmsg4', 'fl_net_mark_sendmsg6']
/** While shaping TCP: the targets' listeners get the clamped MSS too (connect does it for clients). */
const MSS_PROGRAMS = ['fl_net_mark_bind4', 'fl_net_mark_bind6']

/** The kind that serves a rule of config.network (validation allows only the actions some kind has). */
function kindOf(kinds: readonly NetKind[], rule: NormalizedNetworkRule): NetKind {
  const kind = kinds.find((k) => k.actions.includes(rule.action))
  if (!kind) throw new Error(`no network fault kind serves action ${rule.action}`)
  return kind
}

const hasOutsideRules = (kinds: readonly NetKind[], config: FailureConfig): boolean => kinds.some((k) => k.hasOutsideRules?.(config))

/** Why these rules cannot be armed here, per rule; empty when they can. */
function planNetwork(kinds: readonly NetKind[], config: FailureConfig): Refusal[] {
  const refused: Refusal[] = []
  if (!config.network.length && !hasOutsideRules(kinds, config)) return refused // and probe nothing
  refused.push(...planComms(config))
  const mechanism = chooseNetMechanism(config.network)
  // DNS rules ride on the same TC programs (bpf/include/dns_fault.h).
  if (!mechanism.ok) for (const k of kinds) refused.push(...(k.refuseOutside?.(config, mechanism.reason) ?? []))
  for (const r of config.network) {
    const ruleRefusal = kindOf(kinds, r).refuse?.(r)
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
 * direction (the programs skip rules of the other one), egress where rules outside config.network
 * act (DNS, on queries), both for a rule of a kind that acts both ways (reset counts the bytes of
 * its connection both ways).
 */
function directionsOf(kinds: readonly NetKind[], config: FailureConfig, dev: NetDevice): ('egress' | 'ingress')[] {
  const rules = config.network.filter((_, i) => (dev.rules >> i) & 1)
  const both = rules.some((r) => kindOf(kinds, r).bothWays)
  const egress = both || hasOutsideRules(kinds, config) || rules.some((r) => r.direction !== 'ingress')
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

/**
 * The network family of `kinds` (families.ts lists them): the carrier prepares, writes and attaches
 * what they share, and calls each kind's hooks in the order of `kinds`.
 */
export function networkFamily(kinds: readonly NetKind[]): FaultFamily {
  return {
    name: 'network',
    plan(config, inst): Refusal[] | FamilyPlan {
      const refusals = planNetwork(kinds, config)
      if (refusals.length) return refusals
      const outside = hasOutsideRules(kinds, config)
      if (!config.network.length && !outside) return { rules: [], routes: [], warnings: [], prepare() {}, write() {}, attach() {}, clear() {} }
      const choice = chooseNetMechanism(config.network)
      if (!choice.ok) return [{ path: 'network', name: '', reason: choice.reason }] // planNetwork refused it already
      const { mechanism } = choice
      const indexed = config.network.map((rule, index) => ({ rule, index }))
      const armOf = new Map<NetKind, NetKindArm>()
      for (const k of kinds) {
        const arm = k.arm?.(config, inst, indexed.filter(({ rule }) => kindOf(kinds, rule) === k), mechanism)
        if (arm) armOf.set(k, arm)
      }
      const arms = [...armOf.values()]

      // What prepare settles, and clear undoes.
      let net: BpfObject | undefined
      let resolved: NormalizedAddress[][] = []
      let devices: NetDevice[] = []
      let clsacts = false
      let cleared = false
      const counters = () => inst.fault('net').map('fl_net_counters')

      return {
        warnings: [],
        // Rules outside config.network (DNS) have no route of their own: they ride on these rules' TC programs.
        routes: config.network.map((r) => ({ path: r.path, name: r.name, acts: `net:${r.action}`, mechanism })),
        rules: config.network.map((r, i): HandleRule => ({
          name: r.name,
          syscall: `net:${r.action}`,
          mechanism,
          read: () => decodeCounters(counters().lookup(u32Key(i)) ?? Buffer.alloc(SIZEOF.fl_counters)),
        })).concat(arms.flatMap((a) => a.rules ?? [])),
        prepare(tx) {
          net = inst.fault('net')
          resolved = config.network.map((r) => [...r.hosts, ...r.hostnames.flatMap(resolveHost)].filter((a): a is NormalizedAddress => typeof a !== 'string'))
          devices = selectInterfaces(config.network, resolved, outside, (r) => !!kindOf(kinds, r).loByDefault)
          for (const a of arms) a.prepare?.(tx, { net, devices })
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
              const classId = armOf.get(kindOf(kinds, r))?.classId?.(i) ?? 0
              obj.map('fl_net_rules').update(u32Key(i), encodeNetRule(r, resolved[i]!.length > 0, classId, commMask(r.comm, bits)))
            })
            for (const d of devices) devMap.update(u32Key(d.ifindex), encodeNetDev(d.l2Len, d.rules))
            obj.map('fl_net_state').update(u32Key(0), encodeNetState(armedNs, config.network.length, shapingState(arms)))
            for (const a of arms) a.write?.(armedNs)
          })
        },
        attach(tx) {
          const obj = net!
          // Each hook type attached switches on its static key for the whole machine, twice per
          // window (on, then off): only the types the rules need.
          const udp = outside || config.network.some((r) => r.protocol !== 'tcp')
          const mss = shapingState(arms)?.tcpMss
          for (const p of [...MARK_PROGRAMS, ...(udp ? UDP_MARK_PROGRAMS : []), ...(mss ? MSS_PROGRAMS : [])]) attachCgroupHook(tx, obj.program(p))
          for (const dev of devices) {
            for (const direction of directionsOf(kinds, config, dev)) {
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
          for (const a of arms) a.start?.()
          debug('armed %d network rule(s) and %d of other kinds on %d interface(s) (%s)', config.network.length, arms.flatMap((a) => a.rules ?? []).length, devices.length, mechanism)
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
          for (const a of arms) a.clear?.()
          try {
            if (net) {
              net.map('fl_net_state').update(u32Key(0), encodeNetState(0n, 0))
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
            let madeTc = false
            for (const a of arms) madeTc = (a.removeTc?.() ?? false) || madeTc
            if (clsacts) withTcLock(() => devices.forEach((d) => releaseClsact(d, 'mine')), { removal: true })
            if (madeTc || clsacts) removeOwnerRecord()
          } catch (err) {
            debug('clear the network state: %s; a later sweep removes what is left', (err as Error).message)
          }
        },
      }
    },
  }
}

/** fl_net_state's shaping part, from the kind that has one (shaping), once prepared. */
function shapingState(arms: NetKindArm[]): NetShapingState | undefined {
  for (const a of arms) {
    const s = a.netState?.()
    if (s) return s
  }
  return undefined
}
