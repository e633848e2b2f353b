/**
 * The kernel's list of bpf_links, machine-wide (bpf_link_get_next_id), as far as faultline needs
 * it: which functions carry a BPF trampoline (fentry/fexit/fmod_ret), by BTF id. Listing other
 * processes' links needs CAP_SYS_ADMIN: without it the kernel answers EPERM, which is reported
 * (`denied`), never taken for an empty list. A link another process is attaching at that moment
 * has an id but is not settled yet: the kernel answers EAGAIN for it (bpftool's `link show` fails
 * outright then), so it is asked again until it settles or is gone.
 */
import os from 'node:os'
import createDebug from 'debug'
import { getNative } from './native.js'
import { sleepSync } from '../sleep-sync.js'

const debug = createDebug('faultline:libbpf')
const { EPERM, ENOENT, EAGAIN } = os.constants.errno
/** How long to wait for a link another process is attaching to settle: attaching takes microseconds to milliseconds. */
const SETTLE_TRIES = 200
const SETTLE_WAIT_MS = 1

/** enum bpf_link_type: BPF_LINK_TYPE_TRACING. */
const LINK_TYPE_TRACING = 2
/** struct bpf_link_info: type, id, prog_id, then (8-aligned) the union; tracing = attach_type, target_obj_id, target_btf_id. */
const INFO_SIZE = 64

export interface TracingLink {
  id: number
  progId: number
  /** enum bpf_attach_type: BPF_TRACE_FENTRY 24, BPF_TRACE_FEXIT 25, BPF_MODIFY_RETURN 26. */
  attachType: number
  targetBtfId: number
}

export interface TracingLinkList {
  links: TracingLink[]
  /** Why the list is incomplete (EPERM: the caller lacks CAP_SYS_ADMIN), or undefined. */
  denied?: string
}

export function tracingLinks(): TracingLinkList {
  const { lib, libc } = getNative()
  const links: TracingLink[] = []
  let denied: string | undefined
  const deny = (what: string, err: number) => {
    denied = `${what}: ${err === -EPERM ? 'EPERM (needs CAP_SYS_ADMIN)' : `errno ${-err}`}`
    debug('cannot list other processes\' bpf links: %s', denied)
  }
  for (let id = 0; ; ) {
    const next = [0]
    const r = lib.bpf_link_get_next_id(id, next)
    if (r === -ENOENT) break
    if (r !== 0) {
      deny('bpf_link_get_next_id', r)
      break
    }
    id = next[0]!
    const fd = settledLinkFd(id)
    if (fd === -ENOENT) continue // gone meanwhile
    if (fd === -EAGAIN) {
      debug('link %d did not settle in %d ms: left out', id, SETTLE_TRIES * SETTLE_WAIT_MS)
      continue
    }
    if (fd < 0) {
      deny('bpf_link_get_fd_by_id', fd)
      break
    }
    try {
      const info = Buffer.alloc(INFO_SIZE)
      if (lib.bpf_obj_get_info_by_fd(fd, info, [INFO_SIZE]) !== 0) continue
      if (info.readUInt32LE(0) !== LINK_TYPE_TRACING) continue
      links.push({ id, progId: info.readUInt32LE(8), attachType: info.readUInt32LE(16), targetBtfId: info.readUInt32LE(24) })
    } finally {
      libc.close(fd)
    }
  }
  return { links, ...(denied ? { denied } : {}) }
}

/** An fd for link `id`, asking again while the kernel says it is still being attached (EAGAIN). */
function settledLinkFd(id: number): number {
  const { lib } = getNative()
  for (let tries = 1; ; tries++) {
    const fd = lib.bpf_link_get_fd_by_id(id)
    if (fd !== -EAGAIN || tries >= SETTLE_TRIES) return fd
    sleepSync(SETTLE_WAIT_MS)
  }
}
