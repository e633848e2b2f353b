/** kprobes (with bpf_override_return for syscall faults where the kernel allows it). */
import { getNative } from '../native.js'
import type { BpfProgram } from '../object.js'
import { libbpfAttach, type Link } from './link.js'

export interface KprobeOptions {
  program: BpfProgram
  /** Kernel function, e.g. "__x64_sys_openat". */
  func: string
  retprobe?: boolean
}

export function attachKprobe({ program, func, retprobe = false }: KprobeOptions): Link {
  return libbpfAttach(`${retprobe ? 'kretprobe' : 'kprobe'} ${func} (${program.name})`, () =>
    getNative().lib.bpf_program__attach_kprobe(program.ptr, retprobe, func),
  )
}
