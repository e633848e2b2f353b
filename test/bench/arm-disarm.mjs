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

const here = path.dirname(fileURLToPath(import.meta.url))
const N_ARM = Number(process.env.N_ARM ?? 1000)
const N_CALLS = Number(process.env.N_CALLS ?? 200000)
const ROUNDS = 7

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

// 3. per-call cost, in a C child (compiled now)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'))
const bin = path.join(dir, 'udp-connect')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'udp-connect.c')])
const perCall = () => {
  const xs = []
  for (let i = 0; i < ROUNDS; i++) xs.push(Number(execFileSync(bin, ['9', String(N_CALLS)], { encoding: 'utf8' })))
  return median(xs)
}
const base = perCall()
// untargeted: armed, but the target set holds no process (comm filter matches nothing)
let s = arm(rule({ target: { scope: 'system', comm: ['fl-nobody'] } }))
const untargeted = perCall()
s.disarm()
// targeted, non-matching: the child is in the tree; the rule's port (1) never matches
s = arm(rule())
const targeted = perCall()
const seen = s.handle.stats().r.seen
s.disarm()
const base2 = perCall()

console.log(`faultline core benchmarks (${os.release()}, ${os.cpus().length} cpus, node ${process.version})`)
console.log(`first load + arm (1 rule)        ${fmt(firstArm)} ms   (then disarm ${fmt(firstDisarm)} ms)`)
console.log(`arm + disarm, 1 rule, n=${N_ARM}     median ${fmt(median(times))} ms   p99 ${fmt(pct(times, 99))} ms`)
console.log(`UDP connect(), ns per call (median of ${ROUNDS} x ${N_CALLS}):`)
console.log(`  nothing attached (baseline)    ${fmt(base)}   (again at the end: ${fmt(base2)})`)
console.log(`  untargeted process, armed      ${fmt(untargeted)}   (+${fmt(untargeted - base)})`)
console.log(`  targeted, rule doesn't match   ${fmt(targeted)}   (+${fmt(targeted - base)}; calls seen by the rule: ${seen})`)
process.exit(0)
