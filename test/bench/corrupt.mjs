// What an armed corrupt rule (fexit on read + fentry on security_file_permission) costs a read()
// of a process that is not a target, against nothing armed, in one run with interleaved rounds;
// and, for scale, a target's read() of a file the rule's glob does not match (path resolved and
// compared, nothing flipped). Needs fexit and bpf_probe_write_user, so it runs in a VM:
//   npm run build && npm run vm -- --kernel fei-6.12 -- node test/bench/corrupt.mjs
// FAULTLINE_BENCH_OUT=<dir> also writes <dir>/corrupt.json (the bench JSON convention).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig, probeFeature } from '../../packages/core/dist/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const N = Number(process.env.N_CALLS ?? 50000)
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const kernel = os.release()
const machine = `${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cpus`

const missing = ['tp_btf', 'fexit', 'probe-write-user'].map(probeFeature).filter((r) => !r.available)
if (missing.length) {
  console.log(`corrupt bench: skipped on ${kernel}: ${missing.map((r) => `${r.feature}: ${r.reason}`).join('; ')}`)
  console.log('run it where fexit and bpf_probe_write_user exist: npm run vm -- --kernel fei-6.12 -- node test/bench/corrupt.mjs')
  process.exit(0)
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-corruptbench-'))
const bin = path.join(dir, 'fl-read-loop')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'read-loop.c')])
const run = () => Number(execFileSync(bin, [String(N)], { encoding: 'utf8' }).trim().split('\n').pop())
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

const rule = (target) => validateConfig({ target, syscalls: [{ name: 'rot', syscall: 'read', corrupt: { bytes: 4, seed: 1 }, match: { path: `${dir}/never/**` } }] })
const armed = (target) => () => {
  const s = arm(rule(target))
  try {
    return run()
  } finally {
    s.disarm()
  }
}
const states = {
  'read, nothing armed': run,
  'read, untargeted, corrupt rule armed': armed({ scope: 'system', comm: ['fl-nobody'] }),
  'read, targeted, path not matching': armed({ scope: 'children' }),
}
const samples = Object.fromEntries(Object.keys(states).map((k) => [k, []]))
for (let r = 0; r < ROUNDS; r++) for (const [k, f] of Object.entries(states)) samples[k].push(f())

const baseline = 'read, nothing armed'
const figures = Object.entries(samples).map(([name, xs]) => ({
  name,
  unit: 'ns/call',
  median: quantile(xs, 0.5),
  iqr: quantile(xs, 0.75) - quantile(xs, 0.25),
  baseline: name === baseline ? null : baseline,
}))
console.log(`corrupted reads: ns per read() of 64 bytes from /dev/zero (median of ${ROUNDS} interleaved rounds x ${N} calls)`)
console.log(`kernel ${kernel}; ${machine}`)
const base = figures[0].median
for (const f of figures) {
  const delta = f.baseline ? ` (+${(f.median - base).toFixed(0)} vs ${baseline})` : ''
  console.log(`  ${f.name.padEnd(40)} ${f.median.toFixed(0).padStart(7)} ns  iqr ${f.iqr.toFixed(0).padStart(5)}${delta}`)
}
if (process.env.FAULTLINE_BENCH_OUT) {
  fs.mkdirSync(process.env.FAULTLINE_BENCH_OUT, { recursive: true })
  fs.writeFileSync(path.join(process.env.FAULTLINE_BENCH_OUT, 'corrupt.json'), JSON.stringify({ bench: 'corrupt', kernel, machine, figures }, null, 2) + '\n')
}
fs.rmSync(dir, { recursive: true, force: true })
process.exit(0)
