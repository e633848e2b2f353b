#!/usr/bin/env node
// npm run bench [-- --only a,b] [--vm <kernel> [--timeout S]] [--render]
// Runs every test/bench/*.mjs (this file aside) as its own process with FAULTLINE_BENCH_OUT set,
// collects their JSON into docs/bench/<run>.json (<run>: host, or the VM kernel's name; a partial
// run with --only replaces just those benches), and renders docs/performance.md + docs/perf/*.svg
// from every docs/bench/*.json. --vm runs the benches inside that VM kernel (test/vm), at
// FAULTLINE_BENCH_SCALE=0.1 unless set, and reads their JSON back from the console.
// --render only re-renders the docs. Needs `npm run build` and root.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { collectRun, mergeRun, writeDocs } from './lib/render.mjs'
import { machineName } from './lib/measure.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '../..')
const docs = path.join(repo, 'docs')
const BEGIN = '@@FL-BENCH-BEGIN@@'
const END = '@@FL-BENCH-END@@'

const args = process.argv.slice(2)
const opt = (flag) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined }
const only = opt('--only')?.split(',').filter(Boolean)
const vm = opt('--vm')
const log = (s) => process.stderr.write(`bench: ${s}\n`)

/** The bench scripts: every test/bench/*.mjs but this runner. */
export function benchFiles(dir = here, filter = undefined) {
  const all = fs.readdirSync(dir).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs').map((f) => f.replace(/\.mjs$/, '')).sort()
  if (!filter) return all
  const unknown = filter.filter((f) => !all.includes(f))
  if (unknown.length) throw new Error(`--only: no bench named ${unknown.join(', ')}; benches are: ${all.join(', ')}`)
  return all.filter((f) => filter.includes(f))
}

/** strace and fiu-run for the tool comparison (the VM guest sees the host's /usr over 9p). */
function ensureTools() {
  const missing = [['strace', 'strace'], ['fiu-run', 'fiu-utils']].filter(([bin]) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0)
  if (!missing.length || process.env.FL_VM === '1') return
  log(`installing ${missing.map(([, pkg]) => pkg).join(' ')} (apt-get)`)
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing.map(([, pkg]) => pkg)], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (r.status !== 0) log('apt-get failed: the tool comparison names what is missing')
}

/** The error line of a bench's stderr, else its last lines. */
const whyFailed = (err) => err.split('\n').find((l) => /^\w*Error\b/.test(l))?.trim() ?? err.trim().split('\n').slice(-3).join(' / ')

/** Runs the benches here, one process each; returns the run (benches + failures). */
function runHere(names) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-out-'))
  const failed = []
  for (const name of names) {
    log(`${name} ...`)
    const t0 = Date.now()
    const r = spawnSync(process.execPath, [path.join(here, `${name}.mjs`)], { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, FAULTLINE_BENCH_OUT: out }, encoding: 'utf8' })
    process.stderr.write(r.stderr ?? '')
    log(`${name}: exit ${r.status} after ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    if (r.status !== 0) failed.push({ bench: name, reason: `exit ${r.status}: ${whyFailed(r.stderr ?? '')}` })
    else if (!fs.existsSync(path.join(out, `${name}.json`))) failed.push({ bench: name, reason: 'wrote no JSON (FAULTLINE_BENCH_OUT convention, test/bench/README.md)' })
  }
  const run = collectRun(out)
  run.failed.push(...failed.filter((f) => !run.failed.some((g) => g.bench === f.bench)))
  fs.rmSync(out, { recursive: true, force: true })
  return { kernel: os.release(), machine: machineName(), node: process.version, date: new Date().toISOString(), ...run }
}

function save(run) {
  fs.mkdirSync(path.join(docs, 'bench'), { recursive: true })
  const file = path.join(docs, 'bench', `${run.name}.json`)
  const old = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined
  fs.writeFileSync(file, `${JSON.stringify(mergeRun(old, run), null, 2)}\n`)
  const { files } = writeDocs(docs)
  log(`wrote ${path.relative(repo, file)}, docs/performance.md and ${files.length} SVGs under docs/perf/`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (args.includes('--render')) {
    writeDocs(docs)
  } else if (args.includes('--emit')) {
    // Inside a VM: the guest's root is read-only, so the run goes back over the console.
    const run = runHere(benchFiles(here, only))
    process.stdout.write(`\n${BEGIN}\n${JSON.stringify(run)}\n${END}\n`)
  } else if (vm) {
    if (!fs.existsSync(path.join(repo, 'packages/core/dist/index.js'))) throw new Error('bench: run `npm run build` first')
    ensureTools()
    const { runInVm } = await import('../vm/run-vm.mjs')
    const names = benchFiles(here, only)
    const env = { ...process.env, FAULTLINE_BENCH_SCALE: process.env.FAULTLINE_BENCH_SCALE ?? '0.1' }
    log(`${names.join(', ')} in VM ${vm} (QEMU TCG; FAULTLINE_BENCH_SCALE=${env.FAULTLINE_BENCH_SCALE})`)
    const r = await runInVm(vm, ['node', path.join(here, 'run.mjs'), '--emit', ...(only ? ['--only', only.join(',')] : [])], { env, cwd: repo, timeout: Number(opt('--timeout') ?? 3600) })
    const i = r.output.lastIndexOf(BEGIN)
    const j = r.output.lastIndexOf(END)
    if (i < 0 || j < i) throw new Error(`bench: VM ${vm} returned no results (exit ${r.status})`)
    const run = JSON.parse(r.output.slice(i + BEGIN.length, j).trim())
    save({ name: vm, vm: true, host: `${machineName()} (host ${os.release()})`, ...run })
  } else {
    if (!fs.existsSync(path.join(repo, 'packages/core/dist/index.js'))) throw new Error('bench: run `npm run build` first')
    ensureTools()
    save({ name: 'host', vm: false, ...runHere(benchFiles(here, only)) })
  }
}
