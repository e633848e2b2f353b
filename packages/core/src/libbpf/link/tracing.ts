/** Tracepoints (tp_btf, raw_tp), fentry/fexit/fmod_ret and lsm: attach points named by the program's section. */
import { getNative } from '../native.js'
import type { BpfProgram } from '../object.js'
import { libbpfAttach, type Link } from './link.js'

/** tp_btf/, raw_tp/, tracepoint/ and any section libbpf can attach by itself. */
export function attachTracepoint(program: BpfProgram): Link {
  return libbpfAttach(`${program.section} (${program.name})`, () => getNative().lib.bpf_program__attach(program.ptr))
}

/** fentry/, fexit/, fmod_ret/ (BPF trampolines). */
export function attachTrace(program: BpfProgram): Link {
  return libbpfAttach(`${program.section} (${program.name})`, () =>
    getNative().lib.bpf_program__attach_trace(program.ptr),
  )
}

/** lsm/ programs (needs `bpf` in the active LSM list). */
export function attachLsm(program: BpfProgram): Link {
  return libbpfAttach(`${program.section} (${program.name})`, () => getNative().lib.bpf_program__attach_lsm(program.ptr))
}
