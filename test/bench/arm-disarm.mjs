// Benchmarks of the core, printed side by side with their baselines from the same run:
//   1. first load (BPF objects + kernel BTF parse) and the first arm
//   2. arm+disarm of a one-rule config: median and p99 over 1000
//   3. cost per connect() of an untargeted process while armed, vs nothing attached,
//      and of a targeted process whose calls don't match the rule
// usage: node test/bench/arm-disarm.mjs   (after npm run build, as root)
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig } from '../../packages/core/dist/index.js'
import { BpfObject, attachCgroup, openCgroup } from '../../packages/core/dist/libbpf/index.js'
import { cgroup2Mount } from '../../packages/core/dist/kernel/index.js'
import { bpfObjectPath } from '../../packages/core/dist/paths.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const N_ARM = Number(process.env.N_ARM ?? 1000)
const N_CALLS = Number(process.env.N_CALLS ?? 200000)
const ROUNDS = Number(process.env.ROUNDS ?? 11)

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]
const median = (xs) => pct(xs, 50)
const fmt = (x) => x.toFixed(x < 10 ? 2 : 1)

const rule = (extra = {}) => validateConfig({ syscalls: [{ name: 'r', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: 1 } }], ...extra })

// 1. first load + first arm
let t = performance.now()
const first = arm(rule())
const firstArm = performance.now() - t
t = performance.now()
first.disarm()
const firstDisarm = performance.now() - t

// 2. arm + disarm
const times = []
const cfg = rule()
for (let i = 0; i < N_ARM; i++) {
  const t0 = performance.now()
  arm(cfg).disarm()
  times.push(performance.now() - t0)
}

// 3. per-call cost, in a C child (compiled now). States are interleaved round by round, so
// drift of the machine hits every state alike; each figure is the median of its rounds.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'))
const bin = path.join(dir, 'udp-connect')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'udp-connect.c')])
const once = () => Number(execFileSync(bin, ['9', String(N_CALLS)], { encoding: 'utf8' }))
// The floor: the kernel's cgroup connect4 hook running a program that does nothing.
const probe = BpfObject.open(bpfObjectPath('probe'))
for (const p of probe.programs()) if (p.name !== 'probe_cgroup_sockaddr') probe.setAutoload(p.name, false)
probe.load()
const cg = openCgroup(cgroup2Mount())
const states = {
  base: () => once(),
  empty: () => {
    const l = attachCgroup({ program: probe.program('probe_cgroup_sockaddr'), cgroupFd: cg, cgroupPath: 'root' })
    try { return once() } finally { l.destroy() }
  },
  // untargeted: armed, but the target set holds no process (the comm filter matches nothing)
  untargeted: () => {
    const s = arm(rule({ target: { scope: 'system', comm: ['fl-nobody'] } }))
    try { return once() } finally { s.disarm() }
  },
  // targeted, non-matching: the child is in the tree; the rule's port (1) never matches
  targeted: () => {
    const s = arm(rule())
    try { return once() } finally { s.disarm() }
  },
}
const samples = Object.fromEntries(Object.keys(states).map((k) => [k, []]))
for (let r = 0; r < ROUNDS; r++) for (const [k, f] of Object.entries(states)) samples[k].push(f())
const m = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]))

console.log(`faultline core benchmarks (${os.release()}, ${os.cpus().length} cpus, node ${process.version})`)
console.log(`first load + arm (1 rule)        ${fmt(firstArm)} ms   (then disarm ${fmt(firstDisarm)} ms)`)
console.log(`arm + disarm, 1 rule, n=${N_ARM}     median ${fmt(median(times))} ms   p99 ${fmt(pct(times, 99))} ms`)
console.log(`UDP connect(), ns per call (median of ${ROUNDS} interleaved rounds x ${N_CALLS} calls):`)
console.log(`  nothing attached (baseline)          ${fmt(m.base)}`)
console.log(`  empty cgroup program (kernel floor)  ${fmt(m.empty)}   (+${fmt(m.empty - m.base)})`)
console.log(`  untargeted process, faultline armed  ${fmt(m.untargeted)}   (+${fmt(m.untargeted - m.base)}; over the floor ${fmt(m.untargeted - m.empty)})`)
console.log(`  targeted, rule does not match        ${fmt(m.targeted)}   (+${fmt(m.targeted - m.base)}; over the floor ${fmt(m.targeted - m.empty)})`)
process.exit(0)
