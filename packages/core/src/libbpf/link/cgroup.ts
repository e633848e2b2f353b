/** cgroup programs (sock_addr, sock_create, sockopt, skb) attached as bpf_links to a cgroup v2 directory. */
import fs from 'node:fs'
import { getNative } from '../native.js'
import { LibbpfError } from '../errors.js'
import type { BpfProgram } from '../object.js'
import { libbpfAttach, type Link } from './link.js'

export interface CgroupOptions {
  program: BpfProgram
  /** An fd of the cgroup v2 directory, from openCgroup(). */
  cgroupFd: number
  cgroupPath: string
}

export function attachCgroup({ program, cgroupFd, cgroupPath }: CgroupOptions): Link {
  return libbpfAttach(`${program.section} (${program.name}) on ${cgroupPath}`, () =>
    getNative().lib.bpf_program__attach_cgroup(program.ptr, cgroupFd),
  )
}

/** Opens a cgroup v2 directory read-only; the fd is what cgroup attach takes. */
export function openCgroup(path: string): number {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  if (fd < 0) throw new LibbpfError(`open cgroup ${path}`, 2)
  return fd
}
