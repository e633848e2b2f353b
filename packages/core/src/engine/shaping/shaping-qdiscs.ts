/**
 * Delay, jitter and bandwidth for the targets' traffic only. The TC programs cannot hold a
 * packet back, so they steer it: a targeted packet gets skb->priority = its rule's htb class,
 * and faultline's htb qdisc (handle fa17:) puts it in that class, whose rate is the rule's
 * bandwidth and whose leaf is a netem qdisc for delay/jitter. Packets that are not steered go
 * through htb's direct queue, unshaped. Ingress packets are redirected to an IFB device that
 * carries the same qdisc tree and re-injects them where they came from.
 *
 * Qdiscs and the IFB device are not bpf_links: a killed test process leaves them behind. Both
 * carry this process's owner id (the htb's `default`, the IFB's name), and every arming, in any
 * process, sweeps what dead owners left (engine/state).
 */
import createDebug from 'debug'
import type { NormalizedNetworkRule } from '../../config/types.js'
import { probeFeature, type Feature } from '../../kernel/features.js'
import { FaultlineBusyError, FaultlineUnsupportedError } from '../errors.js'
import type { Transaction } from '../transaction.js'
import { netDevice } from '../../kernel/netdev.js'
import {
  SHAPING_HANDLE, SHAPING_MAJOR, batch, describeOwner, htbOwner, ifbName, isShapingRoot, ownerAlive, ownerHex, ownerId, quietly, rootQdisc,
  withTcLock, writeOwnerRecord,
} from '../state/index.js'

const debug = createDebug('faultline:shaping')

/** Rule i's class minor is FIRST_MINOR + i; its netem leaf's handle is the same number. */
const FIRST_MINOR = 0x10
/** TCP segments of shaped targets: what a 1500-byte Ethernet frame carries. */
const ETHERNET_MSS = 1460
/** The class rate of a delay-only rule: high enough never to be the limit. */
const UNLIMITED_BPS = 100e9
const OUR_HANDLE = SHAPING_HANDLE

export function classIdOf(ruleIndex: number): number {
  return ((SHAPING_MAJOR << 16) | (FIRST_MINOR + ruleIndex)) >>> 0
}

/** Why a shaping rule cannot be served here, or undefined. */
export function planShapingRule(r: NormalizedNetworkRule): string | undefined {
  const needs: [Feature, string][] = [['htb', 'to steer the targets\' packets into their own class']]
  if (r.action === 'delay') needs.push(['netem', 'for delay and jitter'])
  if (r.direction !== 'egress') needs.push(['ifb-redirect', 'to shape ingress traffic'])
  for (const [feature, why] of needs) {
    const p = probeFeature(feature)
    if (!p.available) return `${r.action} needs ${feature === 'ifb-redirect' ? 'an IFB device fed by bpf_redirect' : `the ${feature} qdisc`} ${why}: ${p.reason}${feature === 'ifb-redirect' ? '; direction egress works here' : ''}`
  }
  return undefined
}

export interface Shaping {
  /** The IFB device's ifindex for ingress shaping, 0 when no rule shapes ingress. */
  ifbIfindex: number
  /** The MSS the targets' TCP sockets get while shaping (see clamp_mss in bpf/net.bpf.c), or 0. */
  tcpMss: number
  /** Removes what set-up made (helper processes: call it once no fault is live). */
  remove(): void
}

/** What one set-up made, so that undo removes exactly that. */
interface Made {
  devices: string[]
  ifb?: string
}

function undo(made: Made): void {
  const me = ownerId()
  quietly('tc', made.devices.filter((d) => {
    const q = rootQdisc(d)
    return q && isShapingRoot(q) && htbOwner(q) === me
  }).map((d) => `qdisc del dev ${d} root handle ${OUR_HANDLE}`))
  if (made.ifb && netDevice(made.ifb)) quietly('ip', [`link del ${made.ifb}`])
  made.devices = []
  delete made.ifb
}

/** The htb tree of one device: root, one class per rule, a netem (delay) or pfifo (bandwidth) leaf. */
function treeCommands(dev: string, rules: { rule: NormalizedNetworkRule; index: number }[]): string[] {
  // `default` is the owner's tag (its low half names no class: unsteered packets take the direct queue).
  const cmds = [`qdisc add dev ${dev} root handle ${OUR_HANDLE} htb default 0x${ownerHex(ownerId())}`]
  for (const { rule, index } of rules) {
    const minor = (FIRST_MINOR + index).toString(16)
    const rate = `${Math.round(rule.rateBps || UNLIMITED_BPS)}bit`
    cmds.push(`class add dev ${dev} parent ${OUR_HANDLE} classid ${OUR_HANDLE}${minor} htb rate ${rate} ceil ${rate}`)
    if (rule.action === 'delay') {
      const jitter = rule.jitterMs ? ` ${rule.jitterMs}ms` : ''
      cmds.push(`qdisc add dev ${dev} parent ${OUR_HANDLE}${minor} handle ${minor}: netem delay ${rule.delayMs}ms${jitter} limit 100000`)
    } else {
      // A link's buffer: about 200 ms at the rate, then drops, which TCP's congestion control
      // answers by slowing down. An unbounded queue instead grows the round trip by seconds
      // and the sender's timers fire, retransmitting what is only queued.
      const packets = Math.max(16, Math.ceil((rule.rateBps / 8) * 0.2 / 1500))
      cmds.push(`qdisc add dev ${dev} parent ${OUR_HANDLE}${minor} handle ${minor}: pfifo limit ${packets}`)
    }
  }
  return cmds
}

/**
 * Sets up the qdiscs for the shaping rules (index = the rule's index in config.network) on the
 * interfaces each rule applies on (bit index of `rules`), under the machine-wide tc lock, so two
 * processes arming at once see each other's record instead of racing into tc. Refuses, changing
 * nothing, when an interface already has a root qdisc of its own (faultline never replaces one)
 * or another live faultline process shapes it (FaultlineBusyError).

/**
 * Sets up the qdiscs for the shaping rules (index = the rule's index in config.network) on the
 * interfaces whose rule mask names them, all or nothing, under the tc lock. Refuses, changing
 * nothing, when an interface already has a root qdisc of its own (faultline never replaces one)
 * or another live faultline process shapes it. Runs helper processes: call it before any fault is live.
 */
export function setUpShaping(rules: { rule: NormalizedNetworkRule; index: number }[], devices: { name: string; rules: number }[], tx: Transaction): Shaping {
  const egressOn = (dev: { rules: number }) => rules.filter((r) => r.rule.direction !== 'ingress' && (dev.rules >> r.index) & 1)
  const ingress = rules.filter((r) => r.rule.direction !== 'egress')
  const shaped = devices.filter((d) => egressOn(d).length)
  return withTcLock(() => {
    for (const { name: dev } of shaped) {
      let q = rootQdisc(dev)
      if (q && isShapingRoot(q)) {
        const owner = htbOwner(q)
        if (owner && ownerAlive(owner)) {
          throw new FaultlineBusyError(`network shaping on ${dev}: ${describeOwner(owner)} is shaping it (owner id ${ownerHex(owner)}); one process at a time can shape an interface (name another with interface:)`)
        }
        // faultline's tag, and its owner is gone (the sweep runs first, but an older version tagged no owner)
        debug('removing an unclaimed faultline qdisc on %s', dev)
        quietly('tc', [`qdisc del dev ${dev} root handle ${OUR_HANDLE}`])
        q = rootQdisc(dev)
      }
      if (q?.handle !== '0:') {
        throw new FaultlineUnsupportedError(
          `network shaping on ${dev}: it has a root qdisc of its own (handle ${q?.handle ?? 'unknown'}), which faultline will not replace; ` +
            'name another interface with `interface:`, or remove it (tc qdisc del dev ' + dev + ' root)',
        )
      }
    }
    writeOwnerRecord()
    const made: Made = { devices: [] }
    try {
      let ifbIfindex = 0
      if (ingress.length) {
        const ifb = ifbName(ownerId())
        made.ifb = ifb
        tx.step(`create IFB device ${ifb}`, () => batch('ip', [`link add ${ifb} type ifb`, `link set ${ifb} up`], `create IFB device ${ifb}`))
        ifbIfindex = netDevice(ifb)?.ifindex ?? NaN
        tx.step(`shaping qdiscs on ${ifb}`, () => batch('tc', treeCommands(ifb, ingress), `ingress shaping qdiscs on ${ifb}`))
      }
      for (const dev of shaped) {
        made.devices.push(dev.name)
        tx.step(`shaping qdiscs on ${dev.name}`, () => batch('tc', treeCommands(dev.name, egressOn(dev)), `egress shaping qdiscs on ${dev.name}`))
      }
      debug('shaping %d rule(s) on %o, ifb %s', rules.length, made.devices, made.ifb ?? '-')
      const tcpMss = rules.some(({ rule }) => !rule.protocol || rule.protocol === 'tcp') ? ETHERNET_MSS : 0
      return { ifbIfindex, tcpMss, remove: () => withTcLock(() => undo(made), { removal: true }) }
    } catch (err) {
      undo(made)
      throw err
    }
  })
}
