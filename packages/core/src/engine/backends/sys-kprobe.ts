/** Any syscall via a kprobe on its entry + bpf_override_return: one program, one link per syscall. */
import { attachKprobe, type Link } from '../../libbpf/index.js'
import { syscallPrefix } from '../../kernel/features.js'
import type { FaultBackend } from './types.js'

export const sysKprobeBackend: FaultBackend = {
  mechanism: 'kprobe-override',
  attach(inst, rules) {
    const program = inst.fault('sys_kprobe').program('fl_sys_kprobe')
    const links: Link[] = []
    for (const syscall of new Set(rules.map((r) => r.rule.syscall))) links.push(attachKprobe({ program, func: `${syscallPrefix()}${syscall}` }))
    return links
  },
}
