// Per-test cost and bystander cost of a socket rule, in both modes side by side (the default:
// every window attaches what it needs and detaches it; the opt-in FAULTLINE_KEEP_LINKS=on: links
// kept between windows), each figure beside its baseline from the same run:
//   1. first load: a fresh Node process's import of @faultline/core, and its first arm + disarm,
//      apart, vs spawnSync('/bin/true')                                  goal: the sum <= 20x
//   2. arm + disarm of a 1-rule connect config vs spawnSync('/bin/true'), each mode: right after
//      a spawnSync (as in a suite: goal <= 0.2x in the default mode) and back to back (<= 0.1x).
//      Measured in the armer (lib/armer.mjs), a process with no child of its own, as batches of
//      ops, each timed alone. Beside it: after 5 ms of other work, a control workload unrelated
//      to faultline measured the same three ways (it slows down as much after a spawn: that part
//      is the machine's, not arming's), minor page faults per op, and arm + disarm while the
//      process has a live child (the seeding walks the kernel's tasks then).
//   3. ns per UDP connect() of a bystander (outside the armer's tree) while the armer is between
//      tests, in each mode, and while it is armed, vs no faultline program attached anywhere
//      (goal between tests, default mode: <= 1.03x), beside the kernel's floor (an empty cgroup
//      program on the root) and a targeted process whose connect() does not match the rule
// Every round runs each state once, in random order; figures are medians over rounds, with IQR.
// usage: node test/bench/arm-disarm.mjs   (after npm run build, as root)
//   knobs: ROUNDS, N_ARM (arm+disarm per round), N_AFTER (arms after other work), N_SPAWN, N_CALLS, N_FIRST, FAULTLINE_BENCH_SCALE
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BpfObject, attachCgroup, openCgroup } from '../../packages/core/dist/libbpf/index.js'
import { cgroup2Mount } from '../../packages/core/dist/kernel/index.js'
import { bpfObjectPath } from '../../packages/core/dist/paths.js'
import { figure, goal, knob, ratios, report, rounds } from './lib/measure.mjs'
import { startArmer } from './lib/armer-client.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 21) // not scaled: the IQR needs rounds, and a shared machine's spawns swing
const N_ARM = knob('N_ARM', 50)
const N_SPAWN = knob('N_SPAWN', 20)
const N_AFTER = knob('N_AFTER', 20)
const N_CALLS = knob('N_CALLS', 200000)
const N_FIRST = knob('N_FIRST', 5)

const connectRule = { syscalls: [{ name: 'r', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: 1 } }] }
const armer = startArmer()
// Which mechanism serves the rule on this kernel (labels every figure below).
const [mech] = await armer.op('mechanisms', { config: connectRule })

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'))
const bin = path.join(dir, 'udp-connect')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'udp-connect.c')])
const connectNs = () => Number(execFileSync(bin, ['9', String(N_CALLS)], { encoding: 'utf8' }))

// The floor: the kernel's cgroup connect4 hook on the root running a program that does nothing.
const probe = BpfObject.open(bpfObjectPath('probe'))
for (const p of probe.programs()) if (p.name !== 'probe_cgroup_sockaddr') probe.setAutoload(p.name, false)
probe.load()
const cg = openCgroup(cgroup2Mount())

const firstLoad = () => JSON.parse(execFileSync(process.execPath, [path.join(here, 'lib/first-load.mjs'), JSON.stringify(connectRule)], { encoding: 'utf8' }))
const armOps = (before, n = N_AFTER, extra = {}) => () => armer.op('arm', { config: connectRule, n, before, ...extra })
const s = await rounds({
  spawn: () => armer.op('spawn', { n: N_SPAWN }),
  armDisarm: armOps('none', N_ARM),
  armAfterSpawn: armOps('spawn'),
  keptArmDisarm: armOps('none', N_ARM, { keep: true }),
  keptArmAfterSpawn: armOps('spawn', N_AFTER, { keep: true }),
  armAfterBusy: armOps('busy'),
  armWithChild: armOps('none', N_AFTER, { withChild: true }),
  control: () => armer.op('control', { n: N_AFTER }),
  controlAfterSpawn: () => armer.op('control', { n: N_AFTER, before: 'spawn' }),
  controlAfterBusy: () => armer.op('control', { n: N_AFTER, before: 'busy' }),
  first: () => firstLoad(),
  // The bystanders' baseline: no program of faultline attached anywhere on the machine (the armer
  // in the default mode, its kept links released). Any attached cgroup sockaddr program, on
  // whatever cgroup, turns on the kernel's static key for that hook, and then every connect() on
  // the machine enters the cgroup BPF code: 'kept' and 'empty' show what that costs.
  base: async () => { await armer.op('release'); return connectNs() },
  empty: async () => {
    await armer.op('release')
    const l = attachCgroup({ program: probe.program('probe_cgroup_sockaddr'), cgroupFd: cg, cgroupPath: 'root' })
    try { return connectNs() } finally { l.destroy() }
  },
  between: async () => {
    await armer.op('mode', { keep: false })
    await armer.arm(connectRule)
    await armer.disarm() // the default: everything detached
    return connectNs()
  },
  kept: async () => {
    await armer.op('mode', { keep: true })
    await armer.arm(connectRule)
    await armer.disarm() // its links stay attached, its maps are zero: between two tests
    try { return connectNs() } finally { await armer.op('release') }
  },
  bystander: async () => {
    await armer.op('mode', { keep: false })
    await armer.arm(connectRule)
    try { return connectNs() } finally { await armer.disarm() }
  },
  targeted: async () => { await armer.op('mode', { keep: false }); return armer.op('armedRun', { config: connectRule, argv: [bin, '9', String(N_CALLS)] }) },
}, ROUNDS)
await armer.close()
// first load is one sample per round but costs a Node start: keep N_FIRST of them.
const first = s.first.slice(0, Math.max(N_FIRST, 1))
const firstImport = first.map((f) => f.import)
const firstArm = first.map((f) => f.arm)
const firstSum = first.map((f) => f.import + f.arm)

const SPAWN = "spawnSync('/bin/true')"
const BASE = 'connect() ns, no faultline program attached anywhere'
const CONTROL = 'control: fixed JS + 40 fstat(), back to back'
const ms = (xs) => xs.map((x) => x.ms)
const faults = (xs) => xs.map((x) => x.faults)
const spawn = ms(s.spawn)
const spawnN = spawn.slice(0, first.length)
report('arm-disarm', `faultline per-test and bystander cost, connect rule via ${mech}: default (detach after each window) and links kept (opt-in)`, [
  figure(SPAWN, 'ms', spawn),
  figure('first load: import @faultline/core', 'ms', firstImport, SPAWN),
  figure(`first load: first arm + disarm (${mech})`, 'ms', firstArm, SPAWN),
  figure(`first load: import + first arm + disarm (${mech})`, 'ms', firstSum, SPAWN),
  figure(`arm + disarm right after a spawnSync, default (${mech})`, 'ms', ms(s.armAfterSpawn), SPAWN),
  figure(`arm + disarm back to back, default (${mech})`, 'ms', ms(s.armDisarm), SPAWN),
  figure(`arm + disarm right after a spawnSync, links kept (${mech})`, 'ms', ms(s.keptArmAfterSpawn), SPAWN),
  figure(`arm + disarm back to back, links kept (${mech})`, 'ms', ms(s.keptArmDisarm), SPAWN),
  figure(`arm + disarm after 5 ms of busy work, default (${mech})`, 'ms', ms(s.armAfterBusy), SPAWN),
  figure(`arm + disarm with a live child: seeding walk, default (${mech})`, 'ms', ms(s.armWithChild), SPAWN),
  figure('first load (import + first arm + disarm) / spawn', 'ratio', ratios(firstSum, spawnN), null, { goal: goal(20) }),
  figure('arm+disarm right after a spawnSync / spawn, default', 'ratio', ratios(ms(s.armAfterSpawn), spawn), null, { goal: goal(0.2) }),
  figure('arm+disarm back to back / spawn, default', 'ratio', ratios(ms(s.armDisarm), spawn), null, { goal: goal(0.1) }),
  figure('arm+disarm right after a spawnSync / spawn, links kept', 'ratio', ratios(ms(s.keptArmAfterSpawn), spawn)),
  figure('arm+disarm back to back / spawn, links kept', 'ratio', ratios(ms(s.keptArmDisarm), spawn)),
  figure('arm+disarm with a live child / spawn, default', 'ratio', ratios(ms(s.armWithChild), spawn)),
  figure(CONTROL, 'us', ms(s.control).map((x) => x * 1000)),
  figure('control right after a spawnSync', 'us', ms(s.controlAfterSpawn).map((x) => x * 1000), CONTROL),
  figure('control after 5 ms of busy work', 'us', ms(s.controlAfterBusy).map((x) => x * 1000), CONTROL),
  figure('arm+disarm after a spawnSync / back to back, default', 'ratio', ratios(ms(s.armAfterSpawn), ms(s.armDisarm))),
  figure('control after a spawnSync / back to back', 'ratio', ratios(ms(s.controlAfterSpawn), ms(s.control))),
  figure('minor faults per spawnSync', 'faults/op', faults(s.spawn)),
  figure('minor faults per arm+disarm, back to back, default', 'faults/op', faults(s.armDisarm)),
  figure('minor faults per arm+disarm right after a spawnSync, default', 'faults/op', faults(s.armAfterSpawn)),
  figure(BASE, 'ns/call', s.base),
  figure('connect() ns, empty cgroup program on root (floor)', 'ns/call', s.empty, BASE),
  figure(`connect() ns, bystander while another process is between tests, default: detached (${mech})`, 'ns/call', s.between, BASE),
  figure(`connect() ns, bystander while another process is between tests, links kept (${mech})`, 'ns/call', s.kept, BASE),
  figure(`connect() ns, bystander while another process is armed (${mech})`, 'ns/call', s.bystander, BASE),
  figure(`connect() ns, targeted, rule not matching (${mech})`, 'ns/call', s.targeted, BASE),
  figure('bystander connect() between tests / unarmed, default', 'ratio', ratios(s.between, s.base), null, { goal: goal(1.03) }),
  figure('bystander connect() between tests / unarmed, links kept', 'ratio', ratios(s.kept, s.base)),
  figure('bystander connect() armed / unarmed', 'ratio', ratios(s.bystander, s.base)),
], [`${ROUNDS} rounds in random order; per round: arm+disarm ${N_ARM} back to back, ${N_AFTER} after each other kind of work, spawn ${N_SPAWN} back to back; ${N_CALLS} connect() per sample`,
  'arm+disarm and spawn run in the armer process (no child of its own), each state a batch of ops timed one by one (mean per op); after-X states run X untimed before each timed op',
  'first load: a fresh node process each sample; import and the first arm+disarm timed inside it (Node\'s own start excluded)',
  'the bystander is a sibling of the armer process: outside its target tree; the targeted program is the armer\'s child'])
process.exit(0)
