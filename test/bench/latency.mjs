// The cost of an armed delay rule (syscall latency, mechanism send-signal) to the calls of other
// processes: its tp_btf program runs at the exit of every syscall on the machine, and returns
// after one hash lookup for a process outside the target set. close(-1) in a loop (the
// cheapest syscall there is, so the hook's cost is the largest share), ns per call:
//   nothing armed                    the baseline
//   untargeted, delay rule armed     a process outside the target set (the rule targets comm fl-nobody)
//   targeted, rule not firing        a target whose calls the rule evaluates but never delays (when.after 1h)
// Rounds are interleaved so drift on a busy machine spreads over every state.
// Run after `npm run build`, as root: node test/bench/latency.mjs
// FAULTLINE_BENCH_OUT=<dir> also writes <dir>/latency.json (the bench JSON convention).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig, probeFeature } from '../../packages/core/dist/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const N = Number(process.env.N_CALLS ?? 200000)
const ROUNDS = Number(process.env.ROUNDS ?? 9)
const machine = `${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cpus`
const kernel = os.release()

const feature = probeFeature('send-signal')
if (!feature.available) {
  console.log(`latency: send-signal is not available here (${feature.reason}); nothing measured`)
  process.exit(0)
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-latbench-'))
const bin = path.join(dir, 'fl-bench')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'syscall-loop.c')])
const loop = () => Number(execFileSync(bin, ['close', String(N)], { encoding: 'utf8' }).trim().split('\n').pop())
const rule = (target, when) => validateConfig({ target, syscalls: [{ name: 'slow-close', syscall: 'close', delay: '200ms', ...(when ? { when } : {}) }] })
const armed = (cfg) => () => {
  const s = arm(cfg)
  try {
    return loop()
  } finally {
    s.disarm()
  }
}

const states = [
  { name: 'close(-1), nothing armed', baseline: null, run: loop },
  { name: 'close(-1), untargeted, delay rule armed', baseline: 'close(-1), nothing armed', run: armed(rule({ scope: 'system', comm: ['fl-nobody'] })) },
  { name: 'close(-1), targeted, delay rule not firing', baseline: 'close(-1), nothing armed', run: armed(rule({ scope: 'children' }, { after: '1h' })) },
]
const samples = states.map(() => [])
for (let r = 0; r < ROUNDS; r++) states.forEach((s, i) => samples[i].push(s.run()))
fs.rmSync(dir, { recursive: true, force: true })

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo)
}
const figures = states.map((s, i) => ({
  name: s.name,
  unit: 'ns/call',
  median: Number(quantile(samples[i], 0.5).toFixed(1)),
  iqr: Number((quantile(samples[i], 0.75) - quantile(samples[i], 0.25)).toFixed(1)),
  baseline: s.baseline,
}))

console.log(`syscall latency (delay rules): cost per syscall, ns per call (median of ${ROUNDS} interleaved rounds x ${N} calls)`)
console.log(`kernel ${kernel}; ${machine}`)
const base = figures[0].median
for (const f of figures) {
  const vs = f.baseline ? `  (+${(f.median - base).toFixed(1)} vs ${f.baseline})` : ''
  console.log(`  ${f.name.padEnd(44)} ${f.median.toFixed(1).padStart(8)}  iqr ${f.iqr.toFixed(1).padStart(6)}${vs}`)
}
if (process.env.FAULTLINE_BENCH_OUT) {
  fs.mkdirSync(process.env.FAULTLINE_BENCH_OUT, { recursive: true })
  fs.writeFileSync(path.join(process.env.FAULTLINE_BENCH_OUT, 'latency.json'), JSON.stringify({ bench: 'latency', kernel, machine, figures }, null, 2) + '\n')
}
process.exit(0)
