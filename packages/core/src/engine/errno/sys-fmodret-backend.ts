/** Any syscall via fmod_ret on its entry: one loaded copy of sys_fmodret.bpf.o per syscall (an
 * fmod_ret program is bound to its function at load), kept for the life of the process. */
import { attachTrace, type BpfObject } from '../../libbpf/index.js'
import { syscallPrefix } from '../../kernel/features.js'
import type { Instance } from '../instance.js'
import type { FaultBackend } from '../syscall-rules/backend.js'

function objectFor(inst: Instance, syscall: string): BpfObject {
  const fn = `${syscallPrefix()}${syscall}`
  return inst.fault(`sys_fmodret:${syscall}`, { file: 'sys_fmodret', prepare: (o) => o.setAttachTarget('fl_sys_fmodret', fn) })
}

export const sysFmodretBackend: FaultBackend = {
  mechanism: 'fmod-ret-syscall',
  prepare(inst, rules) {
    for (const syscall of new Set(rules.map((r) => r.rule.syscall))) objectFor(inst, syscall)
  },
  attach(inst, rules, tx) {
    for (const syscall of new Set(rules.map((r) => r.rule.syscall))) {
      tx.attach(`fmod_ret/${syscallPrefix()}${syscall}`, () => attachTrace(objectFor(inst, syscall).program('fl_sys_fmodret')))
    }
  },
}
