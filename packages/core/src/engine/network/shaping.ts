/**
 * Delay, jitter and bandwidth for the targets' traffic only. The TC programs cannot hold a
 * packet back, so they steer it: a targeted packet gets skb->priority = its rule's htb class,
 * and faultline's htb qdisc (handle fa17:) puts it in that class, whose rate is the rule's
 * bandwidth and whose leaf is a netem qdisc for delay/jitter. Packets that are not steered go
 * through htb's direct queue, unshaped. Ingress packets are redirected to an IFB device that
 * carries the same qdisc tree and re-injects them where they came from.
 *
 * Qdiscs and the IFB device are not bpf_links: a killed test process leaves them behind. Each
 * arming records what it set up in /run/faultline/shaping-<pid>.json before touching anything,
 * and the next arming (any process) removes what dead owners left (sweepStaleShaping).
 */
import fs from 'node:fs'
import path from 'node:path'
import createDebug from 'debug'
import type { NormalizedNetworkRule } from '../../config/types.js'
import { probeFeature, type Feature } from '../../kernel/features.js'
import { FaultlineBusyError, FaultlineUnsupportedError } from '../errors.js'
// The state directory and owner check the cls_bpf fallback keeps (a reused pid is not taken for its owner).
import { ownerAlive, stateDir, withTcLock } from '../../libbpf/tc-state.js'
import { explainDenied, runIproute } from './iproute.js'

const debug = createDebug('faultline:shaping')

/** htb handle major of faultline's qdiscs: "fa17:" in `tc qdisc show`. */
export const SHAPING_MAJOR = 0xfa17
/** Rule i's class minor is FIRST_MINOR + i; its netem leaf's handle is the same number. */
const FIRST_MINOR = 0x10
const IFB_PREFIX = 'flifb'
/** TCP segments of shaped targets: what a 1500-byte Ethernet frame carries. */
const ETHERNET_MSS = 1460
/** The class rate of a delay-only rule: high enough never to be the limit. */
const UNLIMITED_BPS = 100e9

export const isShaping = (r: NormalizedNetworkRule): boolean => r.action === 'delay' || r.action === 'bandwidth'
/** Our own IFB devices are never shaped or hooked themselves. */
export const isFaultlineIfb = (name: string): boolean => name.startsWith(IFB_PREFIX)

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

interface StateRecord {
  pid: number
  /** Interfaces whose root qdisc faultline replaced with its htb. */
  devices: string[]
  ifb?: string
}

export interface Shaping {
  /** The IFB device's ifindex for ingress shaping, 0 when no rule shapes ingress. */
  ifbIfindex: number
  /** The MSS the targets' TCP sockets get while shaping (see clamp_mss in bpf/net.bpf.c), or 0. */
  tcpMss: number
  remove(): void
}

/** Runs tc/ip commands in one process (`-batch -`); throws with the failing command's error. */
function batch(tool: 'tc' | 'ip', commands: string[], what: string): void {
  if (!commands.length) return
  const r = runIproute(tool, ['-batch', '-'], commands.join('\n') + '\n')
  if (r.error) throw new FaultlineUnsupportedError(`${what}: cannot run ${tool} (${r.error.message}); install iproute2`)
  if (r.status !== 0) throw new FaultlineUnsupportedError(`${what}: ${tool} failed: ${(r.stderr || r.stdout).trim()}${explainDenied(r.stderr)}\n  commands: ${commands.join('; ')}`)
}

/** Best effort: used when undoing, where one failure must not stop the rest. */
function quietly(tool: 'tc' | 'ip', commands: string[]): void {
  if (commands.length) runIproute(tool, ['-force', '-batch', '-'], commands.join('\n') + '\n')
}

/** The root qdisc's handle ("0:" = the kernel's default), or undefined when tc cannot say. */
function rootHandle(dev: string): string | undefined {
  const r = runIproute('tc', ['-j', 'qdisc', 'show', 'dev', dev, 'root'])
  if (r.status !== 0) return undefined
  try {
    const list = JSON.parse(r.stdout) as { handle?: string; root?: boolean; kind?: string }[]
    return list.find((q) => q.root)?.handle ?? list[0]?.handle
  } catch {
    return undefined
  }
}

function readRecords(): StateRecord[] {
  let names: string[]
  try {
    names = fs.readdirSync(stateDir()).filter((n) => /^shaping-\d+\.json$/.test(n))
  } catch {
    return []
  }
  const out: StateRecord[] = []
  for (const n of names) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(stateDir(), n), 'utf8')) as StateRecord)
    } catch {
      // half-written by a process that died while writing: its pid is in the name
      out.push({ pid: Number(/\d+/.exec(n)![0]), devices: [] })
    }
  }
  return out
}

const recordPath = (pid: number) => path.join(stateDir(), `shaping-${pid}.json`)
const OUR_HANDLE = `${SHAPING_MAJOR.toString(16)}:`

function undo(rec: StateRecord): void {
  withTcLock(() => undoLocked(rec))
}

function undoLocked(rec: StateRecord): void {
  quietly('tc', rec.devices.filter((d) => rootHandle(d) === OUR_HANDLE).map((d) => `qdisc del dev ${d} root handle ${OUR_HANDLE}`))
  if (rec.ifb && fs.existsSync(`/sys/class/net/${rec.ifb}`)) quietly('ip', [`link del ${rec.ifb}`])
  fs.rmSync(recordPath(rec.pid), { force: true })
}

/** Removes the qdiscs and IFB devices of faultline processes that died while armed. */
export function sweepStaleShaping(): void {
  // A look without the lock first: most armings find nothing, and need no state directory.
  if (staleRecords().length || staleIfbs().length) withTcLock(sweepLocked)
}

const staleRecords = () => readRecords().filter((rec) => rec.pid !== process.pid && !ownerAlive(rec.pid))

/** IFB devices whose owner died before its record was complete. */
function staleIfbs(): string[] {
  let devs: string[] = []
  try {
    devs = fs.readdirSync('/sys/class/net')
  } catch {
    return []
  }
  return devs.filter((d) => {
    const pid = Number(d.slice(IFB_PREFIX.length))
    return isFaultlineIfb(d) && pid && pid !== process.pid && !ownerAlive(pid)
  })
}

function sweepLocked(): void {
  for (const rec of staleRecords()) {
    debug('sweeping what pid %d left: %o', rec.pid, rec)
    undoLocked(rec)
  }
  for (const d of staleIfbs()) quietly('ip', [`link del ${d}`])
}

/** The htb tree of one device: root, one class per rule, a netem (delay) or pfifo (bandwidth) leaf. */
function treeCommands(dev: string, rules: { rule: NormalizedNetworkRule; index: number }[]): string[] {
  const cmds = [`qdisc add dev ${dev} root handle ${OUR_HANDLE} htb default 0`]
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
 */
export function setUpShaping(rules: { rule: NormalizedNetworkRule; index: number }[], devices: { name: string; rules: number }[]): Shaping {
  return withTcLock(() => setUpLocked(rules, devices))
}

function setUpLocked(rules: { rule: NormalizedNetworkRule; index: number }[], devices: { name: string; rules: number }[]): Shaping {
  const egressOn = (dev: { rules: number }) => rules.filter((r) => r.rule.direction !== 'ingress' && (dev.rules >> r.index) & 1)
  const ingress = rules.filter((r) => r.rule.direction !== 'egress')
  const shaped = devices.filter((d) => egressOn(d).length).map((d) => d.name)
  const owners = readRecords().filter((r) => r.pid !== process.pid)
  for (const dev of shaped) {
    let handle = rootHandle(dev)
    const owner = owners.find((r) => r.devices.includes(dev))
    if (owner) throw new FaultlineBusyError(`network shaping on ${dev}: faultline process ${owner.pid} is shaping it; one process at a time can shape an interface (name another with interface:)`)
    if (handle === OUR_HANDLE) {
      // faultline's tag, and no live process claims it (its record is gone, e.g. /run was wiped)
      debug('removing an unclaimed faultline qdisc on %s', dev)
      quietly('tc', [`qdisc del dev ${dev} root handle ${OUR_HANDLE}`])
      handle = rootHandle(dev)
    }
    if (handle !== '0:') {
      throw new FaultlineUnsupportedError(
        `network shaping on ${dev}: it has a root qdisc of its own (handle ${handle ?? 'unknown'}), which faultline will not replace; ` +
          'name another interface with `interface:`, or remove it (tc qdisc del dev ' + dev + ' root)',
      )
    }
  }
  const rec: StateRecord = { pid: process.pid, devices: shaped, ...(ingress.length ? { ifb: `${IFB_PREFIX}${process.pid}` } : {}) }
  fs.mkdirSync(stateDir(), { recursive: true })
  fs.writeFileSync(recordPath(process.pid), JSON.stringify(rec))
  try {
    let ifbIfindex = 0
    if (rec.ifb) {
      batch('ip', [`link add ${rec.ifb} type ifb`, `link set ${rec.ifb} up`], `create IFB device ${rec.ifb}`)
      ifbIfindex = Number(fs.readFileSync(`/sys/class/net/${rec.ifb}/ifindex`, 'utf8'))
      batch('tc', treeCommands(rec.ifb, ingress), `ingress shaping qdiscs on ${rec.ifb}`)
    }
    for (const dev of devices) if (shaped.includes(dev.name)) batch('tc', treeCommands(dev.name, egressOn(dev)), `egress shaping qdiscs on ${dev.name}`)
    debug('shaping %d rule(s) on %o, ifb %s', rules.length, shaped, rec.ifb ?? '-')
    const tcpMss = rules.some(({ rule }) => !rule.protocol || rule.protocol === 'tcp') ? ETHERNET_MSS : 0
    return { ifbIfindex, tcpMss, remove: () => undo(rec) }
  } catch (err) {
    undoLocked(rec)
    throw err
  }
}
