/**
 * The corrupt family: the rules of config.syscalls with `corrupt` (corrupted reads), through its
 * one route, `fexit-corrupt` (corrupt.bpf.o): fentry on security_file_permission
 * resolves the path of the file a target reads, fexit on each read syscall the rules name flips
 * the chosen bytes with bpf_probe_write_user. One copy of the object per process; all its exit
 * programs get their targets at load, and only the syscalls the rules name are attached.
 * Loading it makes the kernel log "... is installing a program with bpf_probe_write_user helper
 * that may corrupt user memory!" (once per program load, rate-limited).
 */
import { attachTrace, type BpfObject } from '../../libbpf/index.js'
import { syscallPrefix } from '../../kernel/features.js'
import { CORRUPT_SYSCALLS } from '../../config/corrupt.js'
import type { Instance } from '../instance.js'
import { u32Key } from '../shared-layout.js'
import { encodeCorrupt } from './corrupt-layout.js'
import type { FaultBackend } from '../syscall-rules/backend.js'
import { syscallRuleFamily } from '../syscall-rules/syscall-rule-family.js'

function object(inst: Instance): BpfObject {
  return inst.fault('corrupt', {
    prepare: (o) => {
      for (const s of CORRUPT_SYSCALLS) o.setAttachTarget(`fl_corrupt_${s}`, `${syscallPrefix()}${s}`)
    },
  })
}

const corruptBackend: FaultBackend = {
  mechanism: 'fexit-corrupt',
  prepare: (inst) => void object(inst),
  write(inst, rules, tx) {
    const map = object(inst).map('fl_corrupt')
    tx.step('write the corrupt rules\' parameters', () => {
      for (const r of rules) map.update(u32Key(r.index), encodeCorrupt(r.rule.corrupt!.bytes, r.rule.corrupt!.seed))
    })
  },
  attach(inst, rules, tx) {
    const obj = object(inst)
    tx.attach('fentry/security_file_permission', () => attachTrace(obj.program('fl_corrupt_path')))
    for (const syscall of new Set(rules.map((r) => r.rule.syscall))) {
      tx.attach(`fexit/${syscallPrefix()}${syscall}`, () => attachTrace(obj.program(`fl_corrupt_${syscall}`)))
    }
  },
}

export const corruptFamily = syscallRuleFamily('corrupt', 'corrupt', [corruptBackend])
