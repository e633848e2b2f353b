/** Any syscall via a kprobe on its entry + bpf_override_return: one program, one link per syscall. */
import { attachKprobe, kernelBtfFuncId, tracingLinks } from '../../libbpf/index.js'
import { syscallPrefix } from '../../kernel/features.js'
import { FaultlineUnsupportedError } from '../errors.js'
import type { FaultBackend, PlannedRule } from '../syscall-rules/backend.js'

/**
 * Measured on the fei-6.12 kernel: while a BPF trampoline (fmod_ret, fentry) is on the same
 * syscall entry, bpf_override_return is silently dropped: the program runs and counts the fault
 * as fired, the call succeeds. So a kprobe rule is refused when another rule of the config puts
 * fmod_ret there, or another process has a trampoline there (checked at planning, and again right
 * before attaching, for a process that attached meanwhile).
 */
const ADVICE = "use mechanism fmod-ret-syscall (faultline's default where the kernel has it)"

function otherProcessConflict(syscall: string): { reason?: string; denied?: string } {
  const func = `${syscallPrefix()}${syscall}`
  const btfId = kernelBtfFuncId(func)
  if (!btfId) return {}
  const list = tracingLinks()
  const other = list.links.find((l) => l.targetBtfId === btfId)
  if (other) {
    return {
      reason:
        `kprobe-override on ${func} would not take effect: another BPF program (link ${other.id}, program ${other.progId}) ` +
        `is attached to it with a trampoline (fmod_ret/fentry), and the kernel then drops kprobe overrides; ${ADVICE}, or wait until that program detaches`,
    }
  }
  return list.denied ? { denied: list.denied } : {}
}

export const sysKprobeBackend: FaultBackend = {
  mechanism: 'kprobe-override',
  plan(rules, all) {
    const refusals = []
    const warnings = new Set<string>()
    for (const p of rules) {
      const func = `${syscallPrefix()}${p.rule.syscall}`
      // fexit-corrupt (a corrupt rule) puts an fexit trampoline on the same entry function.
      const same = all.find((o: PlannedRule) => o.rule.syscall === p.rule.syscall && (o.mechanism === 'fmod-ret-syscall' || o.mechanism === 'fexit-corrupt'))
      if (same) {
        refusals.push({
          path: p.rule.path,
          name: p.rule.name,
          reason: `kprobe-override on ${func} would not take effect: rule ${same.rule.path} (${same.rule.name}) of this config puts ${same.mechanism === 'fexit-corrupt' ? 'fexit' : 'fmod_ret'} on the same function, and the kernel then drops kprobe overrides; ${ADVICE} for both`,
        })
        continue
      }
      const other = otherProcessConflict(p.rule.syscall)
      if (other.reason) refusals.push({ path: p.rule.path, name: p.rule.name, reason: other.reason })
      if (other.denied) {
        warnings.add(
          `${p.rule.path} (${p.rule.name}): cannot check whether another process has a BPF trampoline on ${func}, which would silently ` +
            `disable the kprobe override (listing other processes' bpf links needs CAP_SYS_ADMIN: ${other.denied})`,
        )
      }
    }
    return { refusals, warnings: [...warnings] }
  },
  prepare: (inst) => void inst.fault('sys_kprobe'),
  attach(inst, rules, tx) {
    const program = inst.fault('sys_kprobe').program('fl_sys_kprobe')
    for (const syscall of new Set(rules.map((r) => r.rule.syscall))) {
      const func = `${syscallPrefix()}${syscall}`
      // Another process may have attached a trampoline since planning.
      const late = otherProcessConflict(syscall).reason
      if (late) throw new FaultlineUnsupportedError(`cannot arm: ${late}; nothing stays attached`)
      tx.attach(`kprobe/${func}`, () => attachKprobe({ program, func }))
    }
  },
}
