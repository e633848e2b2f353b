// What every bench shares: statistics, randomized interleaved rounds, the machine's name, and the
// report (a table on stdout and, when FAULTLINE_BENCH_OUT names a directory, <bench>.json there).
// Figure shape (test/bench/README.md): { name, unit, median, iqr, q1, q3, n, baseline, goal?, note? }
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** Quantile with linear interpolation between the two nearest ranks. */
export function quantile(xs, q) {
  if (!xs.length) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
}

export function summarize(xs) {
  const q1 = quantile(xs, 0.25)
  const q3 = quantile(xs, 0.75)
  return { median: quantile(xs, 0.5), q1, q3, iqr: q3 - q1, n: xs.length }
}

/** Fisher-Yates, in place. */
export function shuffle(xs, rand = Math.random) {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j], xs[i]]
  }
  return xs
}

/**
 * Runs every state once per round, in a new random order each round, so drift of a busy machine
 * hits every state alike. A state returns a number (or a promise of one); the result holds,
 * per state, its samples.
 */
export async function rounds(states, n) {
  const samples = Object.fromEntries(Object.keys(states).map((k) => [k, []]))
  for (let r = 0; r < n; r++) for (const k of shuffle(Object.keys(states))) samples[k].push(await states[k]())
  return samples
}

/** A count from env `name`, else `def` times FAULTLINE_BENCH_SCALE (the VM runs at a fraction; rounds are not scaled). */
export function knob(name, def) {
  if (process.env[name] !== undefined) return Number(process.env[name])
  return Math.max(1, Math.round(def * Number(process.env.FAULTLINE_BENCH_SCALE ?? 1)))
}

/** The per-round quotient of two sample lists of one rounds() run. */
export const ratios = (xs, base) => xs.map((x, i) => x / base[i])

export function kernelRelease() {
  return os.release()
}

/** CPU model and count; under QEMU the model is QEMU's, which names TCG. */
export function machineName() {
  let model = os.cpus()[0]?.model?.trim() || 'unknown cpu'
  return `${model}, ${os.cpus().length} cpus`
}

export const inVm = () => process.env.FL_VM === '1'

/** Mean ms of one spawnSync('/bin/true') over `n` spawns: the reference for per-test costs. */
export function spawnTrueMs(n) {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) spawnSync('/bin/true')
  return (performance.now() - t0) / n
}

/** Mean ms of `fn` over `n` calls. */
export function meanMs(fn, n) {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) fn()
  return (performance.now() - t0) / n
}

export function figure(name, unit, samples, baseline = null, extra = {}) {
  return { name, unit, ...summarize(samples), baseline, ...extra }
}

/** A ratio goal: passes when the median is at most `max`. */
export const goal = (max, label) => ({ max, label })

export const fmt = (x) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(Math.abs(x) >= 1 ? 2 : 3)) : String(x))

/** PASS/MISS of a figure that carries a goal, with the factor by which it misses or the margin. */
export function verdict(f) {
  if (!f.goal) return ''
  const pass = f.median <= f.goal.max
  const by = f.median / f.goal.max
  return pass ? `PASS (goal <= ${f.goal.max}; ${fmt(by)}x of it)` : `MISS (goal <= ${f.goal.max}; ${fmt(by)}x over it)`
}

/** Prints the table and writes <bench>.json under FAULTLINE_BENCH_OUT when it is set. */
export function report(bench, title, figures, notes = []) {
  const out = { bench, title, kernel: kernelRelease(), machine: machineName(), vm: inVm(), node: process.version, date: new Date().toISOString(), loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), figures, notes }
  console.log(`${title} (${out.kernel}; ${out.machine}; node ${out.node}${out.vm ? '; QEMU TCG guest' : ''}; load average ${out.loadavg.join(' ')})`)
  const width = Math.max(...figures.map((f) => f.name.length), 10)
  for (const f of figures) {
    const base = f.baseline ? figures.find((b) => b.name === f.baseline) : undefined
    const rel = base && f.unit !== 'ratio' ? `  vs ${f.baseline}: ${fmt(f.median / base.median)}x` : ''
    console.log(`  ${f.name.padEnd(width)}  ${fmt(f.median).padStart(9)} ${f.unit.padEnd(8)} IQR ${fmt(f.iqr).padStart(8)}  n=${f.n}${rel}${f.goal ? `  ${verdict(f)}` : ''}`)
  }
  for (const n of notes) console.log(`  note: ${n}`)
  const dir = process.env.FAULTLINE_BENCH_OUT
  if (dir) {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `${bench}.json`), `${JSON.stringify(out, null, 2)}\n`)
  }
  return out
}
