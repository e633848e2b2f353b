/** Any syscall via fmod_ret on its entry: one loaded copy of sys_fmodret.bpf.o per syscall (an
 * fmod_ret program is bound to its function at load), kept for the life of the process. */
import { attachTrace, type Link } from '../../libbpf/index.js'
import { syscallPrefix } from '../../kernel/features.js'
import type { FaultBackend } from './types.js'

export const sysFmodretBackend: FaultBackend = {
  mechanism: 'fmod-ret-syscall',
  attach(inst, rules) {
    const links: Link[] = []
    for (const syscall of new Set(rules.map((r) => r.rule.syscall))) {
      const fn = `${syscallPrefix()}${syscall}`
      const obj = inst.fault(`sys_fmodret:${syscall}`, { file: 'sys_fmodret', prepare: (o) => o.setAttachTarget('fl_sys_fmodret', fn) })
      links.push(attachTrace(obj.program('fl_sys_fmodret')))
    }
    return links
  },
}
