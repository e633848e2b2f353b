/**
 * Arm and disarm, for every fault family alike (engine/family.ts):
 *   validate -> plan all -> prepare all (sweep, helpers, tc) -> write maps -> attach all -> run
 *   -> detach all -> clear all.
 * Arming is all-or-nothing: every rule is planned before anything reaches the kernel, nothing
 * that spawns a helper runs while a fault is live, and a failure at any step destroys what was
 * attached (the Transaction holds every link) and clears what was prepared and written.
 * By default disarm destroys every link the window attached: between windows nothing of
 * faultline is attached. Opted in (FAULTLINE_KEEP_LINKS=on, kept-links.ts), tracepoints, cgroup
 * hooks on this process's own target cgroup and tcx links are kept between armings instead: then
 * arming is mostly map writes, and disarm zeroes the state maps, which makes every kept program a no-op.
 * One armed config per process at a time: see FaultlineBusyError.
 */
import createDebug from 'debug'
import type { FailureConfig, FailureConfigInput } from '../config/types.js'
import { isValidatedConfig, validateConfig } from '../config/index.js'
import { attachTracepoint } from '../libbpf/index.js'
import { keepLinksEnabled, keptLinkCount, releaseKeptLinks } from './kept-links.js'
import { readPrivileges, GRANT_ADVICE } from '../kernel/privileges.js'
import { FaultlineBusyError, FaultlineUnsupportedError } from './errors.js'
import { getInstance, type Instance } from './instance.js'
import { decodeTargetVpid } from './shared-layout.js'
import { kernelIdentity } from './identity.js'
import { clearTargets, seedTargets, trackingLinkKey, type Seeded } from './targets.js'
import { createHandle, type FaultsHandle } from './handle.js'
import { FAMILIES } from './families.js'
import type { FamilyPlan, Refusal, RuleRoute } from './family.js'
import { clearSyscallRules, writeSyscallRules } from './syscall-rules/syscall-rule-maps.js'
import { Transaction } from './transaction.js'
import { chooseHookCgroup, ownCgroup } from './target-cgroup.js'
import { sweepAtArming } from './state/index.js'
import { announceArming } from './armings.js'
import { commBits } from './comms.js'
import { writeSharedState, zeroState, type StateWriter } from './shared-state.js'
import { callSiteRecorder, type CallSiteRecorder, type SiteLog } from './call-sites/call-site-recorder.js'

const debug = createDebug('faultline:engine')

export interface Session {
  handle: FaultsHandle
  /** Idempotent. Stats stay readable through the handle afterwards. */
  disarm(): void
  /** With `callSites`: per syscall rule index, the stack each eligible call came from (read at disarm). */
  callSites(): SiteLog | undefined
}

export interface ArmOptions {
  /** A census by call site (explore --by site): log the user stack of every eligible syscall-rule call. */
  callSites?: boolean
}

let active: { config: FailureConfig; session: Session } | undefined

export function activeSession(): Session | undefined {
  return active?.session
}

/**
 * What is refused before anything loads: missing privileges, the machine's. The config's limits
 * (the maps' sizes) are validateConfig's: the engine takes a validated config.
 */
function checkPrivileges(): void {
  const missing = readPrivileges().missing
  if (missing.length) {
    throw new FaultlineUnsupportedError(`faultline needs ${missing.join(', ')} (uid ${process.getuid?.()}): ${GRANT_ADVICE}`)
  }
}

/**
 * `items` in config order: the rules of config.syscalls (three families share them) by index,
 * then the rest in registry order.
 */
function inConfigOrder<T>(items: T[], path: (item: T) => string | undefined): T[] {
  const at = (item: T) => Number(/^syscalls\[(\d+)\]/.exec(path(item) ?? '')?.[1] ?? Infinity)
  return [...items].sort((a, b) => (at(a) === at(b) ? 0 : at(a) < at(b) ? -1 : 1))
}

/** Plans every family; throws FaultlineUnsupportedError naming each rule that cannot be served. */
function planAll(config: FailureConfig, inst: Instance): FamilyPlan[] {
  const planned = FAMILIES.map((f) => f.plan(config, inst))
  const refused = inConfigOrder(planned.flatMap((p): Refusal[] => (Array.isArray(p) ? p : [])), (r) => r.path)
  if (refused.length) {
    throw new FaultlineUnsupportedError(
      `cannot arm: ${refused.length} rule(s) cannot be served on this kernel; nothing was attached\n` +
        refused.map((r) => `  ${r.path} (${r.name}): ${r.reason}`).join('\n'),
      refused,
    )
  }
  return planned.filter((p): p is FamilyPlan => !Array.isArray(p))
}

/**
 * Each target's pid in this process's namespace, as process.pid and child.pid are; a target not
 * visible from here (scope 'system' never adds one) has none to report.
 */
function readTargetPids(inst: Instance): number[] {
  return inst.maps.fl_targets.keys().flatMap((k) => {
    const v = inst.maps.fl_targets.lookup(k)
    const vpid = v ? decodeTargetVpid(v) : 0
    return vpid ? [vpid] : []
  })
}

/**
 * The tracking tracepoints a config needs: fork and exit always; exec only where a comm decides
 * (a comm filter or a rule's comm list: exec renames a process) or scope 'system' adds processes
 * at exec. Each attached tracepoint is a static key switched on and off per window.
 */
function trackingPrograms(config: FailureConfig): string[] {
  const exec = config.target.scope === 'system' || commBits(config).size > 0
  return exec ? ['fl_fork', 'fl_exec', 'fl_exit'] : ['fl_fork', 'fl_exit']
}

/**
 * Plans a config on this kernel without arming it (`faultline validate --kernel`): each rule's
 * route, every family's, in registry order; throws like arm() would.
 */
export function plan(config: FailureConfig): RuleRoute[] {
  checkPrivileges()
  return inConfigOrder(planAll(config, getInstance()).flatMap((p) => p.routes), (r) => r.path)
}

/** Detach all, then clear all (helpers may run again: no fault is live), then what they share. */
function detachAll(inst: Instance, tx: Transaction | undefined, plans: FamilyPlan[], seeded?: Seeded, sites?: CallSiteRecorder): void {
  tx?.destroyMade()
  zeroState(inst)
  for (const p of [...plans].reverse()) p.clear()
  sites?.clear()
  try {
    clearSyscallRules(inst, plans.flatMap((p) => p.syscallRules ?? []).length)
  } catch (err) {
    debug('clear the syscall rule maps: %s', (err as Error).message)
  }
  clearTargets(inst, seeded)
  inst.maps.fl_comms.clear()
}

/**
 * Arms a config: validateConfig's result as it is; any other object (a config written in
 * JavaScript) is validated first, so bad input is refused naming the field, before anything
 * reaches the kernel.
 */
export function arm(input: FailureConfig | FailureConfigInput, options: ArmOptions = {}): Session {
  const config = isValidatedConfig(input) ? input : validateConfig(input)
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
  checkPrivileges()
  // Links kept while the opt-in was on would run beside this window's own (a drop counted twice).
  if (!keepLinksEnabled()) releaseKeptLinks()
  const inst = getInstance()
  const plans = planAll(config, inst)
  const tx = new Transaction()
  const warnings: string[] = []
  const prepared: FamilyPlan[] = []
  let state: StateWriter | undefined
  let nRules = 0
  let seeded: Seeded | undefined
  const sites = options.callSites ? callSiteRecorder(inst, config) : undefined
  try {
    // Prepare: everything that runs helper processes or changes tc state, while no fault is live.
    sweepAtArming()
    if (config.target.scope !== 'system') ownCgroup() // made and entered once per process
    for (const p of plans) {
      prepared.push(p) // its clear() undoes a prepare that threw half-way too
      p.prepare(tx)
    }
    sites?.prepare(tx)
    const armedNs = process.hrtime.bigint()
    // Write: faultline's own thread is exempt while it works (its reads of the seeding iterator,
    // the close() of links at disarm), so no rule can break arming or disarming.
    state = tx.step('write the rule and state maps', () => {
      const rules = writeSyscallRules(inst, config, plans.flatMap((p) => p.syscallRules ?? []))
      nRules = rules.nRules
      return writeSharedState(inst, config, rules, armedNs, { callSites: !!sites })
    })
    for (const p of plans) p.write(tx, armedNs)
    // Attach: tracking first, then the kernel's walk of existing processes: no fork slips between them.
    for (const name of trackingPrograms(config)) tx.attach(name, () => attachTracepoint(inst.process.program(name)), { keep: trackingLinkKey(name) })
    const me = kernelIdentity(inst)
    seeded = tx.step('seed the targets', () =>
      seedTargets(inst, {
        tgid: me.tgid, armedNs, system: config.target.scope === 'system', excludeRoot: config.target.scope === 'children', commFilter: config.target.comm.length > 0,
      }),
    )
    const cgroupWarning = tx.step('put the targets in the hook cgroup', () => chooseHookCgroup(config, seeded!.pids, () => readTargetPids(inst)))
    if (cgroupWarning) warnings.push(cgroupWarning)
    sites?.attach(tx) // before any fault: every call a rule matches has its stack
    for (const p of plans) p.attach(tx)
    tx.step('lift the exemption of faultline\'s thread', () => state!.exempt(false))
    debug('armed %d rule(s), %d link(s) (+%d kept, %d new), %d step(s) in %s ms', nRules, tx.links.length, keptLinkCount(), tx.madeKept.length, tx.count, (performance.now() - t0).toFixed(2))
  } catch (err) {
    detachAll(inst, tx, prepared, seeded, sites)
    throw err
  }
  const links = tx.links

  const handle = createHandle({
    rules: inConfigOrder(plans.flatMap((p) => p.rules), (r) => r.path),
    warnings: [...config.warnings, ...plans.flatMap((p) => p.warnings), ...warnings],
    readTargets: () => readTargetPids(inst),
  })
  let disarmed = false
  let siteLog: SiteLog | undefined
  const session: Session = {
    handle,
    callSites: () => siteLog ?? sites?.read(),
    disarm() {
      if (disarmed) return
      disarmed = true
      state!.exempt(true)
      // Faults first: a zero fl_state (no rules, armed_ns 0) makes every syscall and tracking
      // program a no-op at once, kept or not; then each family stops its own; counters are read
      // before the maps clear.
      zeroState(inst)
      for (const p of plans) p.stop?.()
      for (const l of [...links].reverse()) l.destroy()
      handle.freeze()
      siteLog = sites?.read()
      detachAll(inst, undefined, plans, seeded, sites)
      // Unless kept links are opted in, nothing of faultline stays attached between windows, so
      // other processes pay nothing then (an attached cgroup hook slows every connect() on the
      // machine); links kept while the opt-in was on go too.
      if (!keepLinksEnabled()) releaseKeptLinks()
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
