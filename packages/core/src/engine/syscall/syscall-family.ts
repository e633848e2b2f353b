/**
 * The syscall fault family: every rule of config.syscalls (errno, delay, corrupted reads), served
 * by the backend of the mechanism (attach route) chosen for it. Its rules live in the maps every
 * object shares (syscall-rule-maps.ts). A new mechanism adds a file here and one line in BACKENDS.
 */
import createDebug from 'debug'
import type { FailureConfig } from '../../config/types.js'
import { chooseMechanism, type Mechanism } from '../../kernel/mechanisms.js'
import type { Instance } from '../instance.js'
import type { FaultFamily, FamilyPlan, Refusal } from '../family.js'
import { SIZEOF, decodeCounters, u32Key } from '../layout.js'
import { cgroupBackend } from './cgroup-backend.js'
import { sysFmodretBackend } from './sys-fmodret-backend.js'
import { sysKprobeBackend } from './sys-kprobe-backend.js'
import { lsmBackend, securityFmodretBackend } from './lsm-backend.js'
import { delayBackend } from './delay-backend.js'
import { corruptBackend } from './corrupt-backend.js'
import type { FaultBackend, PlannedRule } from './backend.js'
import { clearSyscallRules, writeSyscallRules } from './syscall-rule-maps.js'

const debug = createDebug('faultline:engine')

export const BACKENDS: Record<Mechanism, FaultBackend> = {
  // First: its attach takes its helper process out of the target set before any fault is live.
  'send-signal': delayBackend,
  cgroup: cgroupBackend,
  'fmod-ret-syscall': sysFmodretBackend,
  'kprobe-override': sysKprobeBackend,
  lsm: lsmBackend,
  'security-fmod-ret': securityFmodretBackend,
  'fexit-corrupt': corruptBackend,
}

export interface SyscallPlan extends FamilyPlan {
  /** The rules in config order, with the mechanism and operation chosen for each. */
  readonly planned: PlannedRule[]
}

export const syscallFamily = {
  name: 'syscalls',
  plan(config: FailureConfig, inst: Instance): Refusal[] | SyscallPlan {
    const planned: PlannedRule[] = []
    const refusals: Refusal[] = []
    config.syscalls.forEach((rule, index) => {
      const choice = chooseMechanism(rule)
      if (choice.ok) planned.push({ index, rule, mechanism: choice.mechanism, op: choice.op })
      else refusals.push({ path: rule.path, name: rule.name, reason: choice.reason })
    })
    const byBackend = Object.values(BACKENDS)
      .map((backend) => ({ backend, rules: planned.filter((p) => p.mechanism === backend.mechanism) }))
      .filter((b) => b.rules.length)
    const warnings: string[] = []
    for (const { backend, rules } of byBackend) {
      const p = backend.plan?.(rules, planned)
      if (p) {
        refusals.push(...p.refusals)
        warnings.push(...p.warnings)
      }
    }
    if (refusals.length) return refusals
    return {
      planned,
      warnings,
      routes: planned.map((p) => ({ path: p.rule.path, name: p.rule.name, acts: p.rule.syscall, mechanism: p.mechanism })),
      // fl_rules index = position in `planned` = config index (every rule is planned or the config refused)
      rules: planned.map((p, i) => ({
        name: p.rule.name,
        syscall: p.rule.syscall,
        mechanism: p.mechanism,
        read: () => decodeCounters(inst.maps.fl_counters.lookup(u32Key(i)) ?? Buffer.alloc(SIZEOF.fl_counters)),
      })),
      prepare: () => byBackend.forEach(({ backend, rules }) => backend.prepare(inst, rules)),
      writeSharedRules: () => writeSyscallRules(inst, config, planned),
      // A backend writes only its own maps.
      write: (tx) => byBackend.forEach(({ backend, rules }) => backend.write?.(inst, rules, tx)),
      attach: (tx) => byBackend.forEach(({ backend, rules }) => backend.attach(inst, rules, tx, config)),
      clear: () => {
        byBackend.forEach(({ backend }) => backend.clear?.(inst))
        try {
          clearSyscallRules(inst, planned.length)
        } catch (err) {
          debug('clear the syscall rule maps: %s', (err as Error).message)
        }
      },
    }
  },
} satisfies FaultFamily

export type { FaultBackend, PlannedRule } from './backend.js'
