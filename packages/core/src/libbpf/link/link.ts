/**
 * One Link type for every attachment (cilium/ebpf's link.Link): the engine keeps a list of
 * Links and destroys them at disarm, whatever made them. Every Link is a kernel bpf_link owned
 * by a file descriptor of this process, so the kernel detaches it if the process dies; the one
 * exception, cls_bpf filters (kernels without tcx), is tagged and swept instead (cls-bpf.ts).
 */
import { getNative, type LinkPtr } from '../native.js'
import { LibbpfError } from '../errors.js'
import { withLog } from '../log.js'

export interface Link {
  /** What it is attached to, for logs and errors, e.g. "cgroup/connect4 on /sys/fs/cgroup/unified". */
  readonly description: string
  /** The bpf_link's fd; -1 for a cls_bpf filter, which has none. */
  readonly fd: number
  destroy(): void
}

/** A link made by one of libbpf's bpf_program__attach_* functions. */
class LibbpfLink implements Link {
  private destroyed = false
  constructor(
    private readonly ptr: LinkPtr,
    readonly description: string,
  ) {}
  get fd(): number {
    return getNative().lib.bpf_link__fd(this.ptr)
  }
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    getNative().lib.bpf_link__destroy(this.ptr)
  }
}

/** A link made with the raw bpf_link_create(), owned as a bare fd (tcx on libbpf 1.1). */
export class FdLink implements Link {
  private destroyed = false
  constructor(
    readonly fd: number,
    readonly description: string,
  ) {}
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    getNative().libc.close(this.fd)
  }
}

/** Calls a bpf_program__attach_* function and wraps its result or its errno. */
export function libbpfAttach(description: string, attach: () => LinkPtr | null): Link {
  const { koffi } = getNative()
  const { result, log } = withLog(() => {
    const ptr = attach()
    return { ptr, errno: ptr ? 0 : koffi.errno() }
  })
  if (!result.ptr) throw new LibbpfError(`attach ${description}`, result.errno || 22, log)
  return new LibbpfLink(result.ptr, description)
}
