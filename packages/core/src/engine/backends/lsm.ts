/** Syscalls through the LSM hook they pass: lsm/ programs (lsm.bpf.o) or fmod_ret on
 * security_* (security.bpf.o); the same C source, one link per hook the rules need. */
import { attachLsm, attachTrace, type Link } from '../../libbpf/index.js'
import { LSM_HOOKS, lsmProgram } from '../../kernel/lsm-hooks.js'
import type { FaultBackend, PlannedRule } from './types.js'

function hooksOf(rules: PlannedRule[]): string[] {
  return [...new Set(rules.map((r) => LSM_HOOKS[r.rule.syscall]!.hook))]
}

export const lsmBackend: FaultBackend = {
  mechanism: 'lsm',
  attach(inst, rules) {
    const obj = inst.fault('lsm')
    return hooksOf(rules).map((hook): Link => attachLsm(obj.program(lsmProgram(hook))))
  },
}

export const securityFmodretBackend: FaultBackend = {
  mechanism: 'security-fmod-ret',
  attach(inst, rules) {
    const obj = inst.fault('security')
    return hooksOf(rules).map((hook): Link => attachTrace(obj.program(lsmProgram(hook))))
  },
}
