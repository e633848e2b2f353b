/** tcx links (kernel >= 6.6). libbpf 1.1 has no bpf_program__attach_tcx, so we call bpf_link_create. */
import { getNative } from '../native.js'
import { LibbpfError } from '../errors.js'
import type { BpfProgram } from '../object.js'
import { FdLink, type Link } from './link.js'

/** BPF_TCX_INGRESS / BPF_TCX_EGRESS from the kernel's enum bpf_attach_type. */
const BPF_TCX_INGRESS = 46
const BPF_TCX_EGRESS = 47

export interface TcxOptions {
  program: BpfProgram
  ifindex: number
  direction: 'ingress' | 'egress'
  /** Interface name, for messages. */
  interfaceName?: string
}

export function attachTcx({ program, ifindex, direction, interfaceName }: TcxOptions): Link {
  const what = `tcx ${direction} on ${interfaceName ?? `ifindex ${ifindex}`} (${program.name})`
  const type = direction === 'ingress' ? BPF_TCX_INGRESS : BPF_TCX_EGRESS
  const fd = getNative().lib.bpf_link_create(program.fd, ifindex, type, null)
  if (fd < 0) throw new LibbpfError(`attach ${what}`, -fd)
  return new FdLink(fd, what)
}
