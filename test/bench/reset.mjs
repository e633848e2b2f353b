// Connection resets: what a reset rule with after_bytes costs the traffic it does not target.
// An untargeted loopback TCP flow (throughput of 64 KB writes, 1-byte round trip) with nothing
// armed (the baseline) and with a reset rule armed (TC programs on every interface, socket
// marking, the reset iterator's poller in this process), in interleaved rounds.
// usage: node test/bench/reset.mjs   (after npm run build, as root)
//   FAULTLINE_BENCH_OUT=<dir>: also writes <dir>/reset.json; ROUNDS=n (default 9)
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig } from '../../packages/core/dist/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 9)
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]
const median = (xs) => pct(xs, 50)
const iqr = (xs) => pct(xs, 75) - pct(xs, 25)
const fmt = (x) => x.toFixed(x < 10 ? 2 : 1)

// Nothing is targeted (no process is named fl-nobody): the flow measures what others pay.
const reset = validateConfig({
  target: { scope: 'system', comm: ['fl-nobody'] },
  network: [{ name: 'cut', action: 'reset', port: 9, after_bytes: 1_000_000 }],
})
arm(reset).disarm() // first load

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'))
const bin = path.join(dir, 'loopback-flow')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'loopback-flow.c')])
const flow = () => ({
  tput: Number(execFileSync(bin, ['tput', '400'], { encoding: 'utf8' })),
  rtt: Number(execFileSync(bin, ['rtt', '20000'], { encoding: 'utf8' })),
})
const states = {
  base: () => flow(),
  reset: () => {
    const s = arm(reset)
    try {
      return flow()
    } finally {
      s.disarm()
    }
  },
}
const samples = { base: [], reset: [] }
for (let r = 0; r < ROUNDS; r++) for (const [k, f] of Object.entries(states)) samples[k].push(f())
const col = (k, f) => samples[k].map((x) => x[f])
const rel = (x, b) => `${x >= b ? '+' : ''}${fmt(((x - b) / b) * 100)} %`
const m = (k, f) => median(col(k, f))

const kernel = os.release()
const machine = `${os.cpus().length} cpus (${os.cpus()[0]?.model ?? 'unknown'})`
console.log(`faultline connection-reset benchmark (${kernel}, ${machine}, node ${process.version})`)
console.log(`untargeted loopback TCP, median of ${ROUNDS} interleaved rounds (IQR)`)
console.log(`  nothing armed (baseline)          ${fmt(m('base', 'tput'))} MB/s (${fmt(iqr(col('base', 'tput')))})   ${fmt(m('base', 'rtt'))} us (${fmt(iqr(col('base', 'rtt')))})`)
console.log(
  `  reset rule armed (after_bytes)    ${fmt(m('reset', 'tput'))} MB/s (${fmt(iqr(col('reset', 'tput')))}, ${rel(m('reset', 'tput'), m('base', 'tput'))})   ` +
    `${fmt(m('reset', 'rtt'))} us (${fmt(iqr(col('reset', 'rtt')))}, ${rel(m('reset', 'rtt'), m('base', 'rtt'))})`,
)

const out = process.env.FAULTLINE_BENCH_OUT
if (out) {
  const fig = (name, unit, xs, baseline) => ({ name, unit, median: median(xs), iqr: iqr(xs), baseline })
  const figures = [
    fig('loopback TCP throughput, nothing armed', 'MB/s', col('base', 'tput'), null),
    fig('loopback TCP throughput, reset rule armed', 'MB/s', col('reset', 'tput'), 'loopback TCP throughput, nothing armed'),
    fig('loopback TCP 1-byte round trip, nothing armed', 'ms', col('base', 'rtt').map((us) => us / 1000), null),
    fig('loopback TCP 1-byte round trip, reset rule armed', 'ms', col('reset', 'rtt').map((us) => us / 1000), 'loopback TCP 1-byte round trip, nothing armed'),
  ]
  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(path.join(out, 'reset.json'), JSON.stringify({ bench: 'reset', kernel, machine, figures }, null, 2) + '\n')
}
process.exit(0)
