/** Any syscall via a kprobe on its entry + bpf_override_return: one program, one link per syscall. */
import { attachKprobe, kernelBtfFuncId, tracingLinks, type Link } from '../../libbpf/index.js'
import { syscallPrefix } from '../../kernel/features.js'
import type { FaultBackend } from './types.js'

export const sysKprobeBackend: FaultBackend = {
  mechanism: 'kprobe-override',
  refuse(rule) {
    // Measured on the fei-6.12 kernel: while any process has a BPF trampoline (fmod_ret, fentry)
    // on the same syscall entry, bpf_override_return is silently dropped: the program runs and
    // counts the fault as fired, the call succeeds. Refuse rather than report a fault that never happened.
    const func = `${syscallPrefix()}${rule.syscall}`
    const btfId = kernelBtfFuncId(func)
    if (!btfId) return undefined
    const other = tracingLinks().find((l) => l.targetBtfId === btfId)
    if (!other) return undefined
    return (
      `kprobe-override on ${func} would not take effect: another BPF program (link ${other.id}, program ${other.progId}) ` +
      'is attached to it with a trampoline (fmod_ret/fentry), and the kernel then drops kprobe overrides; ' +
      'use mechanism fmod-ret-syscall (faultline\'s default where the kernel has it), or wait until that program detaches'
    )
  },
  attach(inst, rules) {
    const program = inst.fault('sys_kprobe').program('fl_sys_kprobe')
    const links: Link[] = []
    for (const syscall of new Set(rules.map((r) => r.rule.syscall))) links.push(attachKprobe({ program, func: `${syscallPrefix()}${syscall}` }))
    return links
  },
}
