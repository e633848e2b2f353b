/** Syscalls through the LSM hook they pass: lsm/ programs (lsm.bpf.o) or fmod_ret on
 * security_* (security.bpf.o); the same C source, one link per hook the rules need. */
import { attachLsm, attachTrace } from '../../libbpf/index.js'
import { LSM_HOOKS, lsmProgram } from '../../kernel/lsm-hooks.js'
import type { FaultBackend, PlannedRule } from '../syscall-rules/backend.js'

function hooksOf(rules: PlannedRule[]): string[] {
  return [...new Set(rules.map((r) => LSM_HOOKS[r.rule.syscall]!.hook))]
}

export const lsmBackend: FaultBackend = {
  mechanism: 'lsm',
  prepare: (inst) => void inst.fault('lsm'),
  attach(inst, rules, tx) {
    const obj = inst.fault('lsm')
    for (const hook of hooksOf(rules)) tx.attach(`lsm/${hook}`, () => attachLsm(obj.program(lsmProgram(hook))))
  },
}

export const securityFmodretBackend: FaultBackend = {
  mechanism: 'security-fmod-ret',
  prepare: (inst) => void inst.fault('security'),
  attach(inst, rules, tx) {
    const obj = inst.fault('security')
    for (const hook of hooksOf(rules)) tx.attach(`fmod_ret/security_${hook}`, () => attachTrace(obj.program(lsmProgram(hook))))
  },
}
