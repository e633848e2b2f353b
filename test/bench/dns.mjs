// DNS rule benchmarks: what a UDP round trip on loopback costs while a dns rule is armed, beside
// the same round trip with nothing armed, in the same run (interleaved rounds, median and IQR):
//   - untargeted UDP to another port, and untargeted DNS queries (the rule targets nobody):
//     the TC programs see the packets and let them go at the socket check;
//   - a targeted DNS query for a name no rule matches: the program reads the question and
//     runs the rule's glob, then lets it go (what the test's own other lookups pay).
// usage: node test/bench/dns.mjs   (after npm run build, as root)
// FAULTLINE_BENCH_OUT=<dir> also writes <dir>/dns.json (the bench convention).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig } from '../../packages/core/dist/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 9)
const N = String(process.env.N ?? 20000)
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]
const median = (xs) => pct(xs, 50)
const iqr = (xs) => pct(xs, 75) - pct(xs, 25)
const fmt = (x) => x.toFixed(0)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-dns-'))
const bin = path.join(dir, 'dns-rtt') // comm "dns-rtt": what the targeted config names
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'dns-rtt.c')])
const addr = `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`
const rtt = (mode) => Number(execFileSync(bin, [mode, addr, 'bench.faultline.test', N], { encoding: 'utf8' }))

const rule = [{ name: '*.never-asked.example', answer: 'nxdomain' }]
const untargeted = validateConfig({ target: { scope: 'system', comm: ['fl-nobody'] }, dns: rule })
const targeted = validateConfig({ target: { scope: 'system', comm: ['dns-rtt'] }, dns: rule })
let seen = 0 // the targeted runs' queries the rule saw: proof that the targeted path ran
const armed = (cfg, f) => {
  const s = arm(cfg)
  try {
    return f()
  } finally {
    s.disarm()
    if (cfg === targeted) seen += s.handle.stats()[rule[0].name].seen
  }
}
arm(untargeted).disarm() // first load

const runs = {
  'udp, nothing armed': () => rtt('udp'),
  'udp, dns rule armed (untargeted)': () => armed(untargeted, () => rtt('udp')),
  'dns query, nothing armed': () => rtt('dns'),
  'dns query, dns rule armed (untargeted)': () => armed(untargeted, () => rtt('dns')),
  'dns query, dns rule armed (targeted, name not matched)': () => armed(targeted, () => rtt('dns')),
}
const baselineOf = { 'udp, dns rule armed (untargeted)': 'udp, nothing armed', 'dns query, dns rule armed (untargeted)': 'dns query, nothing armed', 'dns query, dns rule armed (targeted, name not matched)': 'dns query, nothing armed' }
const samples = Object.fromEntries(Object.keys(runs).map((k) => [k, []]))
for (let r = 0; r < ROUNDS; r++) for (const [k, f] of Object.entries(runs)) samples[k].push(f())

const machine = `${os.cpus().length} cpus, ${os.cpus()[0]?.model ?? 'unknown cpu'}`
console.log(`faultline dns benchmarks (${os.release()}, ${machine}, node ${process.version})`)
console.log(`UDP round trip on loopback, one process as client and server, ns (median of ${ROUNDS} interleaved rounds of ${N}; IQR)`)
const figures = []
for (const [name, xs] of Object.entries(samples)) {
  const base = baselineOf[name]
  const d = base ? median(xs) - median(samples[base]) : undefined
  console.log(`  ${name.padEnd(56)} ${fmt(median(xs)).padStart(7)} ns  (IQR ${fmt(iqr(xs))})${base ? `  ${d >= 0 ? '+' : ''}${fmt(d)} ns vs ${base}` : ''}`)
  figures.push({ name, unit: 'ns/call', median: median(xs), iqr: iqr(xs), baseline: base ?? null })
}
console.log(`  (the targeted runs' queries seen by the rule: ${seen}, expected ${ROUNDS * Number(N)})`)
if (process.env.FAULTLINE_BENCH_OUT) {
  fs.mkdirSync(process.env.FAULTLINE_BENCH_OUT, { recursive: true })
  fs.writeFileSync(path.join(process.env.FAULTLINE_BENCH_OUT, 'dns.json'), JSON.stringify({ bench: 'dns', kernel: os.release(), machine, figures }, null, 2) + '\n')
}
fs.rmSync(dir, { recursive: true, force: true })
process.exit(0)
