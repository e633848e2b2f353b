// What a process outside every target tree pays while another process is armed, against nothing
// armed, in one run (each figure beside its baseline):
//   1. ns per UDP connect() of the bystander (a C loop, test/bench/udp-connect.c) while an "armer"
//      process holds a 1-rule connect config armed: its socket hooks on its own target cgroup
//      (the default), on the cgroup v2 root (FAULTLINE_TARGET_CGROUP=off: the fallback, and
//      what every arming did before), and between tests (armed once, disarmed), in each mode:
//      the default (everything detached: goal <= 1.03x) and links kept (FAULTLINE_KEEP_LINKS=on)
//   2. throughput of the bystander's 64 KB-write loopback TCP flow (loopback-flow.c) while the
//      armer holds a drop rule (its tcx programs run for every packet on lo), and between tests,
//      in each mode
// Each state starts its own armer process (a child of this script) and ends it, the baseline too
// (an armer that loaded faultline, armed, disarmed and released every link: the same start-up
// beside the measure); the bystanders are other children, not in its tree. States are interleaved round by round, in a
// random order per round.
// usage: node test/bench/bystander.mjs   (after npm run build, as root)
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const CORE = path.join(here, '../../packages/core/dist/index.js')
const ROUNDS = Number(process.env.ROUNDS ?? 11)
const N_CALLS = Number(process.env.N_CALLS ?? 200000)
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]
const median = (xs) => pct(xs, 50)
const iqr = (xs) => pct(xs, 75) - pct(xs, 25)
const fmt = (x) => x.toFixed(x < 10 ? 3 : 1)

const ARMER = `
import readline from 'node:readline'
const { arm, validateConfig } = await import(${JSON.stringify(CORE)})
const { releaseKeptLinks } = await import(${JSON.stringify(CORE.replace(/index\.js$/, 'engine/kept-links.js'))})
let s
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line === 'disarm') { s?.disarm(); s = undefined }
  else if (line === 'release') releaseKeptLinks()
  else s = arm(validateConfig(JSON.parse(line)))
  process.stdout.write('ok\\n')
}`

/** A process that arms and disarms on request; `env` picks its target cgroup. */
function startArmer(env = {}) {
  const p = spawn(process.execPath, ['--input-type=module', '-e', ARMER], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  const lines = readline.createInterface({ input: p.stdout })
  const waiting = []
  lines.on('line', () => waiting.shift()?.())
  const ask = (cmd) => new Promise((r) => { waiting.push(r); p.stdin.write(cmd + '\n') })
  const exited = new Promise((r) => p.once('exit', r))
  return { arm: (cfg) => ask(JSON.stringify(cfg)), disarm: () => ask('disarm'), release: () => ask('release'), stop: () => (p.kill('SIGKILL'), exited) }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'))
const udp = path.join(dir, 'udp-connect')
const flow = path.join(dir, 'loopback-flow')
execFileSync('cc', ['-O2', '-o', udp, path.join(here, 'udp-connect.c')])
execFileSync('cc', ['-O2', '-o', flow, path.join(here, 'loopback-flow.c')])
const connectNs = () => Number(execFileSync(udp, ['9', String(N_CALLS)], { encoding: 'utf8' }))
const tput = () => Number(execFileSync(flow, ['tput', '400'], { encoding: 'utf8' }))

const connectRule = { syscalls: [{ name: 'r', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: 1 } }] }
const dropRule = { network: [{ name: 'd', action: 'drop', protocol: 'udp', port: 9, interface: 'lo' }] }

/**
 * Runs `measure` while a fresh armer process is in `mode` ('idle': started, faultline loaded,
 * nothing armed ever: the baseline, with the same process start-up beside it); the armer is gone
 * before it returns.
 */
const withArmer = (cfg, mode, measure, env = {}) => async () => {
  const a = startArmer(env)
  try {
    await a.arm(cfg)
    if (mode !== 'armed') await a.disarm() // 'between': its links stay attached, its maps are zero
    if (mode === 'idle') await a.release()
    await new Promise((r) => setTimeout(r, 300)) // the armer's start-up settles
    return measure()
  } finally {
    await a.stop()
  }
}
const states = {
  'connect, nothing armed': withArmer(connectRule, 'idle', connectNs),
  'connect, another process armed (own cgroup)': withArmer(connectRule, 'armed', connectNs),
  'connect, another process armed (root cgroup)': withArmer(connectRule, 'armed', connectNs, { FAULTLINE_TARGET_CGROUP: 'off' }),
  'connect, another process between tests (default: detached)': withArmer(connectRule, 'between', connectNs),
  'connect, another process between tests (links kept)': withArmer(connectRule, 'between', connectNs, { FAULTLINE_KEEP_LINKS: 'on' }),
  'flow, nothing armed': withArmer(dropRule, 'idle', tput),
  'flow, another process armed (drop rule, tcx)': withArmer(dropRule, 'armed', tput),
  'flow, another process between tests (default: detached)': withArmer(dropRule, 'between', tput),
  'flow, another process between tests (tcx kept)': withArmer(dropRule, 'between', tput, { FAULTLINE_KEEP_LINKS: 'on' }),
}
const samples = Object.fromEntries(Object.keys(states).map((k) => [k, []]))
for (let r = 0; r < ROUNDS; r++) {
  for (const k of Object.keys(states).sort(() => Math.random() - 0.5)) samples[k].push(await states[k]())
}

const m = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, { median: median(xs), iqr: iqr(xs) }]))
const base = m['connect, nothing armed'].median
const flowBase = m['flow, nothing armed'].median
console.log(`faultline bystander benchmarks (${os.release()}, ${os.cpus().length} cpus, node ${process.version}); medians of ${ROUNDS} interleaved rounds (IQR)`)
for (const [k, v] of Object.entries(m)) {
  const b = k.startsWith('connect') ? base : flowBase
  const unit = k.startsWith('connect') ? 'ns/call' : 'MB/s'
  console.log(`  ${k.padEnd(54)} ${fmt(v.median).padStart(8)} ${unit} (IQR ${fmt(v.iqr)})   ratio ${fmt(v.median / b)}`)
}
if (process.env.FAULTLINE_BENCH_OUT) {
  const figures = Object.entries(m).map(([k, v]) => ({
    name: k, unit: k.startsWith('connect') ? 'ns/call' : 'MB/s', median: v.median, iqr: v.iqr,
    baseline: k === 'connect, nothing armed' || k === 'flow, nothing armed' ? null : k.startsWith('connect') ? 'connect, nothing armed' : 'flow, nothing armed',
  }))
  // Ratios per round (each against its own round's baseline), so the ratio has a spread of its own.
  for (const k of Object.keys(m)) {
    if (k.includes('nothing armed')) continue
    const against = samples[k.startsWith('connect') ? 'connect, nothing armed' : 'flow, nothing armed']
    const perRound = samples[k].map((x, r) => x / against[r])
    figures.push({ name: `${k}: ratio`, unit: 'ratio', median: median(perRound), iqr: iqr(perRound), baseline: null, ...(k.includes('between tests (default') ? { goal: { max: 1.03 } } : {}) })
  }
  fs.mkdirSync(process.env.FAULTLINE_BENCH_OUT, { recursive: true })
  fs.writeFileSync(path.join(process.env.FAULTLINE_BENCH_OUT, 'bystander.json'), JSON.stringify({ bench: 'bystander', kernel: os.release(), machine: `${os.cpus().length} cpus, ${os.cpus()[0]?.model ?? ''}`.trim(), figures }, null, 2))
}
process.exit(0)
