/**
 * Corrupted reads (corrupt rules) through corrupt.bpf.o: fentry on security_file_permission
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
import { u32Key } from '../layout.js'
import type { FaultBackend } from './backend.js'

/** struct fl_corrupt of corrupt.bpf.c: { u32 bytes; u32 _pad; u64 seed } (the layout test checks it). */
export const CORRUPT_PARAMS = { size: 16, bytes: 0, seed: 8 } as const

function encodeCorrupt(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(CORRUPT_PARAMS.size)
  b.writeUInt32LE(bytes, CORRUPT_PARAMS.bytes)
  b.writeBigUInt64LE(BigInt(seed), CORRUPT_PARAMS.seed)
  return b
}

function object(inst: Instance): BpfObject {
  return inst.fault('corrupt', {
    prepare: (o) => {
      for (const s of CORRUPT_SYSCALLS) o.setAttachTarget(`fl_corrupt_${s}`, `${syscallPrefix()}${s}`)
    },
  })
}

export const corruptBackend: FaultBackend = {
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
