// Started in the background before a VM's test run (matrix.mjs): holds an empty program on each
// hot hook faultline uses (bpf/test/vm_pin_keys.bpf.c says why: QEMU's multi-threaded TCG and the
// kernel's static-key patching), and a clsact qdisc on a veth pair in a namespace of its own for
// tc's ingress/egress keys. Writes argv[2] once everything is attached, then sleeps until the
// guest powers off. A hook this kernel lacks is left out (its tests skip there anyway).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { BpfObject, attachCgroup, attachTracepoint, openCgroup } from '../../packages/core/dist/libbpf/index.js'

const ready = process.argv[2]
const OBJ = fileURLToPath(new URL('../fixtures/bin/vm_pin_keys.bpf.o', import.meta.url))
const CGROUP = process.env.FL_PIN_CGROUP ?? '/sys/fs/cgroup/fl-vm-pinned' // made by guest-init.sh, holds no process
const pinned = []
const missing = []

// Program by program, each from its own open: a kernel without one of these hooks refuses only that one.
const links = []
const cgroupFd = openCgroup(CGROUP)
for (const p of BpfObject.open(OBJ).programs()) {
  try {
    const one = BpfObject.open(OBJ)
    for (const q of one.programs()) if (q.name !== p.name) one.setAutoload(q.name, false)
    one.load()
    const prog = one.program(p.name)
    links.push(p.section.startsWith('cgroup/') ? attachCgroup({ program: prog, cgroupFd, cgroupPath: CGROUP }) : attachTracepoint(prog))
    pinned.push(p.section)
  } catch (err) {
    missing.push(`${p.section}: ${err.message.split('\n')[0]}`)
  }
}
try {
  const sh = (cmd) => execFileSync('sh', ['-c', cmd], { stdio: 'pipe' })
  sh('ip netns add fl-vm-pin && ip -n fl-vm-pin link add pina type veth peer name pinb && tc -n fl-vm-pin qdisc add dev pina clsact')
  pinned.push('clsact (tc ingress/egress)')
} catch (err) {
  missing.push(`clsact: ${String(err.stderr ?? err.message).trim()}`)
}
fs.writeFileSync(ready, `pinned: ${pinned.join(', ')}${missing.length ? `\nnot on this kernel: ${missing.join('; ')}` : ''}\n`)
setInterval(() => links.length, 1 << 30)
