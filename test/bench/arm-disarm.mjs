// Per-test cost and bystander cost of a socket rule, each beside its baseline from the same run:
//   1. first load + arm (a fresh Node process each time) vs spawnSync('/bin/true')
//   2. arm + disarm of a 1-rule connect config vs spawnSync('/bin/true')       goal <= 0.1x
//   3. ns per UDP connect() of a bystander (outside the armer's tree) while armed, vs nothing
//      armed (goal <= 1.05x), beside the kernel's floor (an empty cgroup program on the root)
//      and a targeted process whose connect() does not match the rule
// Every round runs each state once, in random order; figures are medians over rounds, with IQR.
// usage: node test/bench/arm-disarm.mjs   (after npm run build, as root)
//   knobs: ROUNDS, N_ARM (arm+disarm per round), N_SPAWN, N_CALLS, N_FIRST, FAULTLINE_BENCH_SCALE
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig } from '../../packages/core/dist/index.js'
import { BpfObject, attachCgroup, openCgroup } from '../../packages/core/dist/libbpf/index.js'
import { cgroup2Mount } from '../../packages/core/dist/kernel/index.js'
import { bpfObjectPath } from '../../packages/core/dist/paths.js'
import { figure, goal, knob, meanMs, ratios, report, rounds, spawnTrueMs } from './lib/measure.mjs'
import { startArmer } from './lib/armer-client.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 11) // not scaled: the IQR needs rounds
const N_ARM = knob('N_ARM', 50)
const N_SPAWN = knob('N_SPAWN', 20)
const N_CALLS = knob('N_CALLS', 200000)
const N_FIRST = knob('N_FIRST', 5)

const connectRule = { syscalls: [{ name: 'r', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: 1 } }] }
const cfg = validateConfig(connectRule)

// Which mechanism serves the rule on this kernel (labels every figure below).
const probeSession = arm(cfg)
const mech = probeSession.handle.stats().r.mechanism
probeSession.disarm()

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'))
const bin = path.join(dir, 'udp-connect')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'udp-connect.c')])
const connectNs = () => Number(execFileSync(bin, ['9', String(N_CALLS)], { encoding: 'utf8' }))

// The floor: the kernel's cgroup connect4 hook on the root running a program that does nothing.
const probe = BpfObject.open(bpfObjectPath('probe'))
for (const p of probe.programs()) if (p.name !== 'probe_cgroup_sockaddr') probe.setAutoload(p.name, false)
probe.load()
const cg = openCgroup(cgroup2Mount())
const armer = startArmer()

const firstLoad = () => Number(execFileSync(process.execPath, [path.join(here, 'lib/first-load.mjs'), JSON.stringify(connectRule)], { encoding: 'utf8' }))
const s = await rounds({
  spawn: () => spawnTrueMs(N_SPAWN),
  armDisarm: () => meanMs(() => arm(cfg).disarm(), N_ARM),
  first: () => (firstLoad()),
  base: () => connectNs(),
  empty: () => {
    const l = attachCgroup({ program: probe.program('probe_cgroup_sockaddr'), cgroupFd: cg, cgroupPath: 'root' })
    try { return connectNs() } finally { l.destroy() }
  },
  bystander: async () => {
    await armer.arm(connectRule)
    try { return connectNs() } finally { await armer.disarm() }
  },
  targeted: () => {
    const sess = arm(cfg)
    try { return connectNs() } finally { sess.disarm() }
  },
}, ROUNDS)
await armer.close()
// first load is one sample per round but costs a Node start: keep N_FIRST of them.
const first = s.first.slice(0, Math.max(N_FIRST, 1))

const SPAWN = "spawnSync('/bin/true')"
const BASE = 'connect() ns, nothing armed'
report('arm-disarm', `faultline per-test and bystander cost, connect rule via ${mech}`, [
  figure(SPAWN, 'ms', s.spawn),
  figure(`first load + arm (${mech})`, 'ms', first, SPAWN),
  figure(`arm + disarm, 1 connect rule (${mech})`, 'ms', s.armDisarm, SPAWN),
  figure('first load / spawn', 'ratio', ratios(first, s.spawn), null, { goal: goal(2) }),
  figure('arm+disarm (1 connect rule) / spawn', 'ratio', ratios(s.armDisarm, s.spawn), null, { goal: goal(0.1) }),
  figure(BASE, 'ns/call', s.base),
  figure('connect() ns, empty cgroup program on root (floor)', 'ns/call', s.empty, BASE),
  figure(`connect() ns, bystander while another process is armed (${mech})`, 'ns/call', s.bystander, BASE),
  figure(`connect() ns, targeted, rule not matching (${mech})`, 'ns/call', s.targeted, BASE),
  figure('bystander connect() armed / unarmed', 'ratio', ratios(s.bystander, s.base), null, { goal: goal(1.05) }),
], [`${ROUNDS} rounds in random order; arm+disarm ${N_ARM} per round, spawn ${N_SPAWN} per round, ${N_CALLS} connect() per sample`,
  'the bystander is a sibling of the armer process: outside its target tree'])
process.exit(0)
