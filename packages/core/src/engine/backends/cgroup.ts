/** Socket calls through cgroup hooks (sock.bpf.o), attached to the cgroup v2 root. */
import { attachCgroup, openCgroup } from '../../libbpf/index.js'
import { cgroup2Mount } from '../../kernel/cgroup.js'
import { FaultlineUnsupportedError } from '../errors.js'
import { FL_OP } from '../layout.js'
import type { FaultBackend } from './types.js'

/** The programs of sock.bpf.o serving each operation. */
const SOCK_PROGRAMS: Record<number, string[]> = {
  [FL_OP.connect]: ['fl_connect4', 'fl_connect6'],
  [FL_OP.bind]: ['fl_bind4', 'fl_bind6'],
  [FL_OP.sendmsg]: ['fl_sendmsg4', 'fl_sendmsg6'],
  [FL_OP.socket]: ['fl_sock_create'],
  [FL_OP.getsockopt]: ['fl_getsockopt'],
  [FL_OP.setsockopt]: ['fl_setsockopt'],
}

let cgroupFd: number | undefined

/** The cgroup v2 root, opened once per process (the fd is what cgroup attach takes). */
export function rootCgroup(): { fd: number; path: string } {
  const path = cgroup2Mount()
  if (!path) throw new FaultlineUnsupportedError('no cgroup v2 mount in /proc/mounts: mount one (mount -t cgroup2 none /sys/fs/cgroup/unified); `ip netns exec` mounts a fresh /sys without it, so mount it inside that command, or enter the namespace with `nsenter --net` instead')
  cgroupFd ??= openCgroup(path)
  return { fd: cgroupFd, path }
}

export const cgroupBackend: FaultBackend = {
  mechanism: 'cgroup',
  prepare(inst) {
    inst.fault('sock')
    rootCgroup()
  },
  attach(inst, rules, tx) {
    const sock = inst.fault('sock')
    const cg = rootCgroup()
    for (const op of new Set(rules.map((r) => r.op))) {
      for (const name of SOCK_PROGRAMS[op] ?? []) {
        tx.attach(`cgroup ${name}`, () => attachCgroup({ program: sock.program(name), cgroupFd: cg.fd, cgroupPath: cg.path }))
      }
    }
  },
}
