/**
 * What the families of config.syscalls share (errno, delay, corrupt): each rule is of one kind
 * (kindOf), served by the backend of the mechanism (attach route) chosen for it
 * (kernel/mechanisms.ts). Their rules live in the shared rule maps at their config index, which
 * the session writes for every family (FamilyPlan.syscallRules), so a backend writes only its own maps.
 */
import type { FailureConfig, NormalizedSyscallRule } from '../../config/types.js'
import { chooseMechanism } from '../../kernel/mechanisms.js'
import type { Instance } from '../instance.js'
import type { FaultFamily, FamilyPlan, Refusal } from '../family.js'
import { SIZEOF, decodeCounters, u32Key } from '../shared-layout.js'
import type { FaultBackend, PlannedRule } from './backend.js'

export type SyscallRuleKind = 'errno' | 'delay' | 'corrupt'

/** Which family a rule of config.syscalls belongs to. */
export function kindOf(rule: NormalizedSyscallRule): SyscallRuleKind {
  return rule.delay ? 'delay' : rule.corrupt ? 'corrupt' : 'errno'
}

/** The mechanism and operation chosen for each rule of config.syscalls (of `kind`, or of every kind). */
function choose(config: FailureConfig, kind?: SyscallRuleKind): { planned: PlannedRule[]; refusals: Refusal[] } {
  const planned: PlannedRule[] = []
  const refusals: Refusal[] = []
  config.syscalls.forEach((rule, index) => {
    if (kind && kindOf(rule) !== kind) return
    const choice = chooseMechanism(rule)
    if (choice.ok) planned.push({ index, rule, mechanism: choice.mechanism, op: choice.op })
    else refusals.push({ path: rule.path, name: rule.name, reason: choice.reason })
  })
  return { planned, refusals }
}

/**
 * The family of one kind of syscall rule, served by `backends` (one per mechanism it may get,
 * in the order they prepare, write and attach).
 */
export function syscallRuleFamily(name: string, kind: SyscallRuleKind, backends: readonly FaultBackend[]): FaultFamily {
  return {
    name,
    plan(config: FailureConfig, inst: Instance): Refusal[] | FamilyPlan {
      const { planned, refusals } = choose(config, kind)
      const lost = planned.find((p) => !backends.some((b) => b.mechanism === p.mechanism))
      if (lost) throw new Error(`faultline: the ${name} family has no backend for mechanism ${lost.mechanism} (${lost.rule.path})`)
      const byBackend = backends
        .map((backend) => ({ backend, rules: planned.filter((p) => p.mechanism === backend.mechanism) }))
        .filter((b) => b.rules.length)
      const warnings: string[] = []
      let all: PlannedRule[] | undefined
      for (const { backend, rules } of byBackend) {
        if (!backend.plan) continue
        // Every kind's rules, chosen only when asked: a kprobe rule is refused beside a corrupt rule's fexit.
        all ??= choose(config).planned
        const p = backend.plan(rules, all)
        refusals.push(...p.refusals)
        warnings.push(...p.warnings)
      }
      if (refusals.length) return refusals
      return {
        syscallRules: planned,
        warnings,
        routes: planned.map((p) => ({ path: p.rule.path, name: p.rule.name, acts: p.rule.syscall, mechanism: p.mechanism })),
        rules: planned.map((p) => ({
          path: p.rule.path,
          name: p.rule.name,
          syscall: p.rule.syscall,
          mechanism: p.mechanism,
          read: () => decodeCounters(inst.maps.fl_counters.lookup(u32Key(p.index)) ?? Buffer.alloc(SIZEOF.fl_counters)),
        })),
        prepare: () => byBackend.forEach(({ backend, rules }) => backend.prepare(inst, rules)),
        write: (tx) => byBackend.forEach(({ backend, rules }) => backend.write?.(inst, rules, tx)),
        attach: (tx) => byBackend.forEach(({ backend, rules }) => backend.attach(inst, rules, tx, config)),
        clear: () => byBackend.forEach(({ backend }) => backend.clear?.(inst)),
      }
    },
  }
}
