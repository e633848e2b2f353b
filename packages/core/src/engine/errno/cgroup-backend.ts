/**
 * Socket calls through cgroup hooks (sock.bpf.o), on the arming's hook cgroup: this process's own
 * target cgroup, where the links are kept between armings, or the cgroup v2 root (target-cgroup.ts).
 */
import { FL_OP } from '../shared-layout.js'
import { attachCgroupHook, rootCgroup } from '../target-cgroup.js'
import type { FaultBackend } from '../syscall-rules/backend.js'

/** The programs of sock.bpf.o serving each operation. */
const SOCK_PROGRAMS: Record<number, string[]> = {
  [FL_OP.connect]: ['fl_connect4', 'fl_connect6'],
  [FL_OP.bind]: ['fl_bind4', 'fl_bind6'],
  [FL_OP.sendmsg]: ['fl_sendmsg4', 'fl_sendmsg6'],
  [FL_OP.socket]: ['fl_sock_create'],
  [FL_OP.getsockopt]: ['fl_getsockopt'],
  [FL_OP.setsockopt]: ['fl_setsockopt'],
}

export const cgroupBackend: FaultBackend = {
  mechanism: 'cgroup',
  prepare(inst) {
    inst.fault('sock')
    rootCgroup()
  },
  attach(inst, rules, tx) {
    const sock = inst.fault('sock')
    for (const op of new Set(rules.map((r) => r.op))) {
      for (const name of SOCK_PROGRAMS[op] ?? []) attachCgroupHook(tx, sock.program(name))
    }
  },
}
