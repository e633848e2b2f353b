// The same injection side by side, in one run: faultline against strace (ptrace; seccomp-bpf so
// only the named syscall stops) and libfiu's fiu-run (LD_PRELOAD wrappers in libc; dynamic
// binaries only), on a C program (tools-loop.c):
//   ns per call for: an untargeted call, a targeted call that does not fire, a targeted call that fires
//   whole-program wall time of N_MIX stat()+read() under each tool, against the bare program
// faultline's rows need a mechanism for the syscall: on a kernel without fmod_ret/kprobe/lsm
// (our host) only connect() (cgroup hooks) is compared; `npm run bench -- --vm fei-6.12` runs the
// open/read/write comparison where faultline can fail them.
// What "untargeted" means per tool: faultline, a process outside the armed tree (a sibling of the
// armer); strace, a call of a syscall strace is not told to inject (no stop under seccomp-bpf);
// fiu, a wrapped call whose failure point is not enabled while another one is.
// The strace and faultline rows run a static build (no loader reads or opens to fail), fiu's rows
// and their baseline the dynamic build.
// knobs: ROUNDS, N_CALLS, N_STRACE (strace stops cost ~100x a call), N_MIX, FAULTLINE_BENCH_SCALE
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig, probeFeature } from '../../packages/core/dist/index.js'
import { figure, knob, ratios, report, rounds } from './lib/measure.mjs'
import { startArmer } from './lib/armer-client.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 5) // not scaled: the IQR needs rounds
const N = knob('N_CALLS', 50000)
const N_STRACE = Math.min(knob('N_STRACE', 5000), 60000) // strace's when= counts to 65535
const N_MIX = Number(process.env.N_MIX ?? 20000)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-tools-'))
const dyn = path.join(dir, 'tools-loop')
const stat = path.join(dir, 'tools-loop-static')
execFileSync('cc', ['-O2', '-o', dyn, path.join(here, 'tools-loop.c')])
execFileSync('cc', ['-O2', '-static', '-o', stat, path.join(here, 'tools-loop.c')])
const outFile = path.join(dir, 'result')
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0

/** Runs [prefix..., bin, op, n]; resolves to the program's ns per call, or the wall ms with `wall`. */
function run(bin, op, n, prefix = [], wall = false) {
  fs.writeFileSync(outFile, Buffer.alloc(64))
  const fd = fs.openSync(outFile, 'r+')
  try {
    const argv = [...prefix, bin, op, String(n)]
    const t0 = performance.now()
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', fd] })
    const ms = performance.now() - t0
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status ?? r.signal}: ${r.error?.message ?? r.stderr}`)
    return wall ? ms : Number(fs.readFileSync(outFile, 'utf8').replace(/\0/g, '').trim())
  } finally {
    fs.closeSync(fd)
  }
}

const strace = (sys, when) => ['strace', '-f', '--seccomp-bpf', '-qq', '-o', '/dev/null', '-e', `trace=${sys}`, '-e', `inject=${sys}:error=EIO${when ? `:when=${when}` : ''}`]
const fiu = (cmd) => ['fiu-run', '-x', '-f', '', '-c', cmd]
const OPS = {
  open: { sys: 'openat', fiu: 'posix/io/oc/open', fire: { match: { path: '/dev/zero' } }, miss: { match: { path: '/nonexistent/*' } }, errno: 'EACCES' },
  read: { sys: 'read', fiu: 'posix/io/rw/read', fire: { match: { fd: '/dev/zero' } }, miss: { match: { fd: '/nonexistent/*' } }, errno: 'EIO' },
  write: { sys: 'write', fiu: 'posix/io/rw/write', fire: { match: { fd: '/dev/null' } }, miss: { match: { fd: '/nonexistent/*' } }, errno: 'EIO' },
  connect: { sys: 'connect', fiu: 'posix/io/net/connect', fire: { match: { port: 9 } }, miss: { match: { port: 1 } }, errno: 'ECONNREFUSED' },
}
const syscallMechs = ['fmod-ret-syscall', 'kprobe-override'].filter((m) => probeFeature(m).available)
// connect() is compared on the host run; a kernel with syscall mechanisms (a VM) compares open/read/write.
const ops = syscallMechs.length ? ['open', 'read', 'write'] : ['connect']
const rule = (op, which) => ({ target: { scope: 'children' }, syscalls: [{ name: 'r', syscall: OPS[op].sys, errno: OPS[op].errno, ...OPS[op][which] }] })
const tools = { strace: has('strace'), fiu: has('fiu-run') }
const notes = [`${ROUNDS} rounds in random order; ${N} calls per sample (strace: ${N_STRACE}); whole program: ${N_MIX} stat()+read()`]
notes.push('untargeted: faultline, a process outside the armed tree (a sibling of the armer); strace, a syscall it is not told to inject (no stop under seccomp-bpf); fiu-run, a wrapped call whose failure point is not enabled while another is',
  'not matching/not firing: faultline, a rule on the call whose filter does not match (the path, the fd\'s path, the port); strace, `when=65535`; fiu-run, `enable_random probability=0`',
  'firing: strace and faultline fail the syscall in the kernel (strace after a ptrace stop); fiu-run fails it in its libc wrapper without entering the kernel',
  'strace and faultline run a static build of the program, fiu-run the dynamic one (each beside its own bare baseline); the whole-program figures include the start of strace and of fiu-run (a shell script)')
for (const [t, ok] of Object.entries(tools)) if (!ok) notes.push(`${t} is not installed: its rows are missing (apt-get install ${t === 'fiu' ? 'fiu-utils' : t})`)
if (!syscallMechs.length) notes.push(`this kernel (${os.release()}) has no syscall-entry mechanism for faultline: open/read/write are compared in the VM run`)

// A state that fails (a tool refusing, a program dying under a fault) costs its figure, not the
// run: its samples are NaN, and the figure is replaced by a note saying why.
const failures = new Map()
function guarded(states, what) {
  return Object.fromEntries(Object.entries(states).map(([k, f]) => [k, async () => {
    try { return await f() } catch (err) {
      if (!failures.has(`${what}/${k}`)) failures.set(`${what}/${k}`, String(err.message).split('\n')[0])
      return NaN
    }
  }]))
}
function keepMeasured(figures) {
  const dropped = new Set(figures.filter((f) => !Number.isFinite(f.median)).map((f) => f.name))
  return figures.filter((f) => !dropped.has(f.name)).map((f) => (dropped.has(f.baseline) ? { ...f, baseline: null } : f))
}

const armer = startArmer()
const figures = []
for (const op of ops) {
  const o = OPS[op]
  const fl = (which) => () => { const s = arm(validateConfig(rule(op, which))); try { return run(stat, op, N) } finally { s.disarm() } }
  let mech = ''
  const states = {
    bare: () => run(stat, op, N),
    flUntargeted: async () => { mech = (await armer.arm(rule(op, 'fire')))[0]; try { return run(stat, op, N) } finally { await armer.disarm() } },
    flMiss: fl('miss'),
    flFire: fl('fire'),
  }
  if (tools.strace) Object.assign(states, {
    straceUntargeted: () => run(stat, op, N_STRACE, strace('ftruncate')),
    straceMiss: () => run(stat, op, N_STRACE, strace(o.sys, 65535)),
    straceFire: () => run(stat, op, N_STRACE, strace(o.sys)),
  })
  if (tools.fiu) Object.assign(states, {
    bareDyn: () => run(dyn, op, N),
    fiuUntargeted: () => run(dyn, op, N, fiu('enable name=posix/io/rw/ftruncate')),
    fiuMiss: () => run(dyn, op, N, fiu(`enable_random name=${o.fiu},probability=0`)),
    fiuFire: () => run(dyn, op, N, fiu(`enable name=${o.fiu}`)),
  })
  const s = await rounds(guarded(states, op), ROUNDS)
  const BASE = `${op}() ns, bare (static)`
  const DBASE = `${op}() ns, bare (dynamic, fiu's baseline)`
  figures.push(
    figure(BASE, 'ns/call', s.bare),
    figure(`${op}() ns, faultline (${mech}): untargeted process`, 'ns/call', s.flUntargeted, BASE),
    figure(`${op}() ns, faultline (${mech}): targeted, not matching`, 'ns/call', s.flMiss, BASE),
    figure(`${op}() ns, faultline (${mech}): targeted, firing`, 'ns/call', s.flFire, BASE),
  )
  if (tools.strace) figures.push(
    figure(`${op}() ns, strace --seccomp-bpf: untargeted syscall`, 'ns/call', s.straceUntargeted, BASE),
    figure(`${op}() ns, strace --seccomp-bpf: targeted, not firing (when=65535)`, 'ns/call', s.straceMiss, BASE),
    figure(`${op}() ns, strace --seccomp-bpf: targeted, firing`, 'ns/call', s.straceFire, BASE),
  )
  if (tools.fiu) figures.push(
    figure(DBASE, 'ns/call', s.bareDyn),
    figure(`${op}() ns, fiu-run: untargeted (other point enabled)`, 'ns/call', s.fiuUntargeted, DBASE),
    figure(`${op}() ns, fiu-run: targeted, not firing (probability=0)`, 'ns/call', s.fiuMiss, DBASE),
    figure(`${op}() ns, fiu-run: targeted, firing`, 'ns/call', s.fiuFire, DBASE),
  )
}

// Whole program: each tool set to fail read() but not firing; wall time of the process.
const mixStates = {
  bare: () => run(stat, 'mix', N_MIX, [], true),
}
if (syscallMechs.length) mixStates.faultline = () => { const s = arm(validateConfig(rule('read', 'miss'))); try { return run(stat, 'mix', N_MIX, [], true) } finally { s.disarm() } }
if (tools.strace) mixStates.strace = () => run(stat, 'mix', N_MIX, strace('read', 65535), true)
if (tools.fiu) {
  mixStates.bareDyn = () => run(dyn, 'mix', N_MIX, [], true)
  mixStates.fiu = () => run(dyn, 'mix', N_MIX, fiu('enable_random name=posix/io/rw/read,probability=0'), true)
}
const m = await rounds(guarded(mixStates, 'whole program'), ROUNDS)
await armer.close()
const MB = `whole program, ${N_MIX} stat()+read(), bare (static)`
const MD = `whole program, ${N_MIX} stat()+read(), bare (dynamic)`
figures.push(figure(MB, 'ms', m.bare))
if (m.faultline) figures.push(figure(`whole program, faultline read rule armed, not firing`, 'ms', m.faultline, MB), figure('whole-program slowdown, faultline', 'ratio', ratios(m.faultline, m.bare)))
if (m.strace) figures.push(figure(`whole program, strace --seccomp-bpf inject=read, not firing`, 'ms', m.strace, MB), figure('whole-program slowdown, strace', 'ratio', ratios(m.strace, m.bare)))
if (m.fiu) figures.push(figure(MD, 'ms', m.bareDyn), figure(`whole program, fiu-run read point, not firing`, 'ms', m.fiu, MD), figure('whole-program slowdown, fiu-run', 'ratio', ratios(m.fiu, m.bareDyn)))
for (const [k, why] of failures) notes.push(`${k} failed, its figure is missing: ${why}`)
report('tools', 'the same injection under faultline, strace and fiu-run', keepMeasured(figures), notes)
process.exit(0)
