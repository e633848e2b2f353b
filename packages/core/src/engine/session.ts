/**
 * Arm and disarm. Arming is all-or-nothing: every rule is planned (a mechanism chosen) before
 * anything reaches the kernel, and a failure half-way destroys what was attached and clears
 * the maps. Disarm destroys the links (the fault stops at once) and clears the maps.
 * One armed config per process at a time: see FaultlineBusyError.
 */
import fs from 'node:fs'
import createDebug from 'debug'
import { OPEN_FLAG_BITS } from '../kernel/open-flags.js'
import type { FailureConfig } from '../config/types.js'
import { attachTracepoint, type Link } from '../libbpf/index.js'
import { chooseMechanism } from '../kernel/mechanisms.js'
import { readPrivileges, GRANT_ADVICE } from '../kernel/privileges.js'
import { FaultlineBusyError, FaultlineUnsupportedError } from './errors.js'
import { getInstance, type Instance } from './instance.js'
import {
  FL_STATE_COMM_FILTER, FL_STATE_EXCLUDE_ROOT, FL_STATE_NEED_PATH, FL_STATE_SYSTEM, encodeGlob, FL_MAX_COMMS, FL_MAX_RULES, SIZEOF,
  decodeCounters, decodeTargetVpid, encodeComm, encodeRule, encodeState, u32Key, type RuleCounters,
} from './layout.js'
import { kernelIdentity } from './identity.js'
import { seedTargets } from './targets.js'
import { createHandle, type FaultsHandle } from './handle.js'
import { BACKENDS, type PlannedRule } from './backends/index.js'
import { armNetwork, planNetwork, type ArmedNetwork } from './network/arm.js'
import { announceArming } from '../armings.js'
import { commBits, commMask } from './comms.js'

const debug = createDebug('faultline:engine')

export interface Session {
  handle: FaultsHandle
  /** Idempotent. Stats stay readable through the handle afterwards. */
  disarm(): void
}

let active: { config: FailureConfig; session: Session } | undefined

export function activeSession(): Session | undefined {
  return active?.session
}

/** Plans every rule; throws FaultlineUnsupportedError naming each rule that cannot be served. */
export function plan(config: FailureConfig): PlannedRule[] {
  const missing = readPrivileges().missing
  if (missing.length) {
    throw new FaultlineUnsupportedError(`faultline needs ${missing.join(', ')} (uid ${process.getuid?.()}): ${GRANT_ADVICE}`)
  }
  if (config.target.comm.length > FL_MAX_COMMS) {
    throw new FaultlineUnsupportedError(`target.comm holds at most ${FL_MAX_COMMS} names; this one has ${config.target.comm.length}`)
  }
  if (config.syscalls.length > FL_MAX_RULES) {
    throw new FaultlineUnsupportedError(`a config holds at most ${FL_MAX_RULES} syscall rules; this one has ${config.syscalls.length}`)
  }
  const planned: PlannedRule[] = []
  const refused: { path: string; name: string; reason: string }[] = []
  config.syscalls.forEach((rule, index) => {
    const choice = chooseMechanism(rule)
    const conflict = choice.ok ? BACKENDS[choice.mechanism].refuse?.(rule) : undefined
    if (choice.ok && !conflict) planned.push({ index, rule, mechanism: choice.mechanism, op: choice.op })
    else refused.push({ path: rule.path, name: rule.name, reason: choice.ok ? conflict! : choice.reason })
  })
  refused.push(...planNetwork(config))
  if (refused.length) {
    throw new FaultlineUnsupportedError(
      `cannot arm: ${refused.length} rule(s) cannot be served on this kernel; nothing was attached\n` +
        refused.map((r) => `  ${r.path} (${r.name}): ${r.reason}`).join('\n'),
      refused,
    )
  }
  return planned
}

/** The inode of the test runner's IPC channel (Vitest forks, Jest workers): never failed. */
function runnerChannelInode(): bigint {
  const fd = (process as { channel?: { fd?: number } }).channel?.fd
  if (typeof fd !== 'number' || fd < 0) return 0n
  try {
    return BigInt(fs.fstatSync(fd).ino)
  } catch {
    return 0n
  }
}

interface StateWriter {
  /** Rewrites fl_state with faultline's own thread exempt (true) or not. */
  exempt(on: boolean): void
}

function writeConfig(inst: Instance, config: FailureConfig, planned: PlannedRule[], armedNs: bigint): StateWriter {
  const { maps } = inst
  const zero = Buffer.alloc(SIZEOF.fl_counters)
  const afterFromExec = config.target.comm.length > 0
  // Each comm gets a bit; a rule naming its own processes (Minderbinder) gets their mask (engine/comms.ts).
  const commBit = commBits(config)
  let needPath = false
  planned.forEach(({ rule, op }, i) => {
    const openFlags = (rule.match.flags ?? []).reduce((m, f) => m | ((OPEN_FLAG_BITS as Record<string, number>)[f] ?? 0), 0)
    const glob = rule.match.path ?? rule.match.fd
    if (glob) {
      needPath = true
      maps.fl_globs.update(u32Key(i), encodeGlob(glob))
    }
    maps.fl_counters.update(u32Key(i), zero)
    maps.fl_rules.update(u32Key(i), encodeRule(rule, { op, afterFromExec, commMask: commMask(rule.comm, commBit), openFlags }))
  })
  maps.fl_comms.clear()
  for (const [comm, bit] of commBit) maps.fl_comms.update(encodeComm(comm), u32Key(bit))
  let flags = 0
  if (config.target.comm.length) flags |= FL_STATE_COMM_FILTER
  if (config.target.scope === 'system') flags |= FL_STATE_SYSTEM
  if (config.target.scope === 'children') flags |= FL_STATE_EXCLUDE_ROOT
  if (needPath) flags |= FL_STATE_NEED_PATH
  const exemptIno = runnerChannelInode()
  // The kernel's numbers for this process, not process.pid: they differ in a pid namespace.
  const me = kernelIdentity(inst)
  const writer: StateWriter = {
    exempt(on) {
      maps.fl_state.update(
        u32Key(0),
        encodeState({
          armedNs, flags, nRules: planned.length, rootTgid: me.tgid, exemptTid: on ? me.tid : 0, exemptIno,
          pidnsLevel: me.pidnsLevel, pidnsIno: me.pidnsIno,
        }),
      )
    },
  }
  writer.exempt(true)
  return writer
}

function clearMaps(inst: Instance): void {
  inst.maps.fl_state.update(u32Key(0), Buffer.alloc(SIZEOF.fl_state))
  inst.maps.fl_targets.clear()
  inst.maps.fl_comms.clear()
}

/** Attaches each mechanism's programs for the rules planned onto it. */
function attachFaults(inst: Instance, planned: PlannedRule[], config: FailureConfig): Link[] {
  const links: Link[] = []
  for (const backend of Object.values(BACKENDS)) {
    const rules = planned.filter((p) => p.mechanism === backend.mechanism)
    if (rules.length) links.push(...backend.attach(inst, rules, config))
  }
  return links
}

export function arm(config: FailureConfig): Session {
  if (active) {
    throw new FaultlineBusyError(
      'withFailureConfig: another config is already armed in this process (rules: ' +
        `${active.config.syscalls.map((r) => r.name).join(', ')}). Nesting and concurrent calls are not supported: ` +
        'put all rules in one config, or run concurrent tests in separate processes. If an earlier test timed out, ' +
        'its callback never settled: pass { timeout } to withFailureConfig, or call disarmActive() in afterEach ' +
        '(the Vitest plugin and the Jest environment do both).',
    )
  }
  const t0 = performance.now()
  const planned = plan(config)
  const inst = getInstance()
  const links: Link[] = []
  const armedNs = process.hrtime.bigint()
  let state: StateWriter | undefined
  let network: ArmedNetwork | undefined
  try {
    // faultline's own thread is exempt while it works (its reads of the seeding iterator, the
    // close() of links at disarm), so no rule can break arming or disarming.
    state = writeConfig(inst, config, planned, armedNs)
    // Tracking first, then the /proc walk: no fork slips between them.
    for (const name of ['fl_fork', 'fl_exec', 'fl_exit']) links.push(attachTracepoint(inst.process.program(name)))
    seedTargets(inst)
    links.push(...attachFaults(inst, planned, config))
    if (config.network.length) {
      network = armNetwork(inst, config, armedNs)
      links.push(...network.links)
    }
    state.exempt(false)
    debug('armed %d rule(s), %d link(s) in %s ms', planned.length, links.length, (performance.now() - t0).toFixed(2))
  } catch (err) {
    for (const l of links.reverse()) l.destroy()
    network?.clear()
    clearMaps(inst)
    throw err
  }

  const handle = createHandle({
    rules: [
      ...planned.map((p, i) => ({
        name: p.rule.name,
        syscall: p.rule.syscall,
        mechanism: p.mechanism,
        read: (): RuleCounters => decodeCounters(inst.maps.fl_counters.lookup(u32Key(i)) ?? Buffer.alloc(SIZEOF.fl_counters)),
      })),
      ...(network?.rules ?? []),
    ],
    warnings: config.warnings,
    // Each target's pid in this process's namespace, as process.pid and child.pid are; a
    // target not visible from here (scope 'system' never adds one) has none to report.
    readTargets: () =>
      inst.maps.fl_targets.keys().flatMap((k) => {
        const v = inst.maps.fl_targets.lookup(k)
        const vpid = v ? decodeTargetVpid(v) : 0
        return vpid ? [vpid] : []
      }),
  })
  let disarmed = false
  const session: Session = {
    handle,
    disarm() {
      if (disarmed) return
      disarmed = true
      state!.exempt(true)
      // Faults first (they stop at once), then tracking; counters are read before the maps clear.
      for (const l of links.reverse()) l.destroy()
      handle.freeze()
      network?.clear()
      clearMaps(inst)
      if (active?.session === session) active = undefined
      debug('disarmed')
    },
  }
  active = { config, session }
  announceArming(handle)
  return session
}

/** Disarms whatever is armed in this process (adapters call it after each test, as a backstop). */
export function disarmActive(): boolean {
  if (!active) return false
  active.session.disarm()
  return true
}

process.once('exit', () => {
  // The kernel drops our links when the process dies anyway; this keeps a clean exit tidy.
  disarmActive()
})
