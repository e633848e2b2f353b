// Network benchmarks, printed side by side with their baseline from the same run:
//   1. arm+disarm of one network rule: drop (TC programs + socket marking) and bandwidth
//      (the same plus faultline's htb qdisc on every interface), median and p99
//   2. an untargeted loopback TCP flow (throughput, 1-byte round trip) with nothing attached,
//      with a drop rule armed, and with a bandwidth rule armed (its packets take htb's direct queue)
// usage: node test/bench/network.mjs   (after npm run build, as root)
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig } from '../../packages/core/dist/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]
const median = (xs) => pct(xs, 50)
const fmt = (x) => x.toFixed(x < 10 ? 2 : 1)

// Nothing is targeted (no process is named fl-nobody): the flows measure what others pay.
const nobody = { scope: 'system', comm: ['fl-nobody'] }
const drop = validateConfig({ target: nobody, network: [{ name: 'd', action: 'drop', protocol: 'udp', port: 9 }] })
const shape = validateConfig({ target: nobody, network: [{ name: 'b', action: 'bandwidth', rate: '1mbit', protocol: 'udp', port: 9 }] })

const armTimes = (cfg, n) => {
  const xs = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    arm(cfg).disarm()
    xs.push(performance.now() - t0)
  }
  return xs
}
arm(drop).disarm() // first load
const dropArm = armTimes(drop, Number(process.env.N_ARM ?? 200))
const shapeArm = armTimes(shape, Number(process.env.N_SHAPE ?? 30))

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'))
const bin = path.join(dir, 'loopback-flow')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'loopback-flow.c')])
const flow = () => ({
  tput: Number(execFileSync(bin, ['tput', '400'], { encoding: 'utf8' })),
  rtt: Number(execFileSync(bin, ['rtt', '20000'], { encoding: 'utf8' })),
})
const states = {
  base: () => flow(),
  drop: () => { const s = arm(drop); try { return flow() } finally { s.disarm() } },
  shape: () => { const s = arm(shape); try { return flow() } finally { s.disarm() } },
}
const samples = Object.fromEntries(Object.keys(states).map((k) => [k, []]))
for (let r = 0; r < ROUNDS; r++) for (const [k, f] of Object.entries(states)) samples[k].push(f())
const m = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, { tput: median(xs.map((x) => x.tput)), rtt: median(xs.map((x) => x.rtt)) }]))
const rel = (x, b) => `${x >= b ? '+' : ''}${fmt(((x - b) / b) * 100)} %`

console.log(`faultline network benchmarks (${os.release()}, ${os.cpus().length} cpus, node ${process.version})`)
console.log(`arm + disarm, 1 drop rule, n=${dropArm.length}       median ${fmt(median(dropArm))} ms   p99 ${fmt(pct(dropArm, 99))} ms`)
console.log(`arm + disarm, 1 bandwidth rule, n=${shapeArm.length}   median ${fmt(median(shapeArm))} ms   p99 ${fmt(pct(shapeArm, 99))} ms`)
console.log(`untargeted loopback TCP (median of ${ROUNDS} interleaved rounds): throughput MB/s, 1-byte round trip us`)
console.log(`  nothing attached (baseline)   ${fmt(m.base.tput)} MB/s   ${fmt(m.base.rtt)} us`)
console.log(`  drop rule armed (tcx)         ${fmt(m.drop.tput)} MB/s (${rel(m.drop.tput, m.base.tput)})   ${fmt(m.drop.rtt)} us (${rel(m.drop.rtt, m.base.rtt)})`)
console.log(`  bandwidth rule armed (+htb)   ${fmt(m.shape.tput)} MB/s (${rel(m.shape.tput, m.base.tput)})   ${fmt(m.shape.rtt)} us (${rel(m.shape.rtt, m.base.rtt)})`)
process.exit(0)
