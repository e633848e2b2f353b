// Syscall-level mechanisms (fmod_ret on the syscall, kprobe override, lsm, fmod_ret on a security
// hook), each present on this kernel, figures beside their baseline from the same run:
//   ns per hooked call with nothing armed, for a bystander while another process is armed, for a
//   targeted process whose rule does not fire, and under strace's fastest mode (seccomp-bpf);
//   arm + disarm of the 1-rule config vs spawnSync('/bin/true') (goal <= 0.1x)
// Run it where the mechanisms exist (npm run bench -- --vm fei-6.12 runs it there):
//   npm run vm -- --kernel fei-6.12 -- node test/bench/syscall.mjs      (fmod_ret, kprobe)
//   npm run vm -- --kernel debian-6.12 -- node test/bench/syscall.mjs   (lsm, security fmod_ret)
//   knobs: ROUNDS, N_CALLS, N_ARM, N_SPAWN, FAULTLINE_BENCH_SCALE
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig, probeFeature } from '../../packages/core/dist/index.js'
import { figure, goal, knob, meanMs, ratios, report, rounds, spawnTrueMs } from './lib/measure.mjs'
import { startArmer } from './lib/armer-client.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const N = knob('N_CALLS', 50000)
const ROUNDS = Number(process.env.ROUNDS ?? 5) // not scaled: the IQR needs rounds
const N_ARM = knob('N_ARM', 20)
const N_SPAWN = knob('N_SPAWN', 10)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-sysbench-'))
const bin = path.join(dir, 'fl-bench')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'syscall-loop.c')])
const run = (mode, prefix = []) => Number(execFileSync(prefix[0] ?? bin, [...prefix.slice(1), ...(prefix.length ? [bin] : []), mode, String(N)], { encoding: 'utf8' }).trim().split('\n').pop())

const SPAWN = "spawnSync('/bin/true')"
const figures = []
const notes = [`${ROUNDS} rounds in random order, ${N} calls per sample, arm+disarm ${N_ARM} per round`]
const mechs = ['fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret'].filter((m) => probeFeature(m).available)
let spawnSamples = []
const armer = mechs.length ? startArmer() : undefined
for (const mech of mechs) {
  const lsm = mech === 'lsm' || mech === 'security-fmod-ret'
  const mode = lsm ? 'kill0' : 'close'
  const syscall = lsm ? 'kill' : 'close'
  const rule = { syscalls: [{ name: 'r', syscall, errno: 'EPERM', mechanism: mech, when: { after: '1h' } }] }
  const cfg = validateConfig(rule)
  const states = {
    spawn: () => spawnTrueMs(N_SPAWN),
    armDisarm: () => meanMs(() => arm(cfg).disarm(), N_ARM),
    base: () => run(mode),
    bystander: async () => { await armer.arm(rule); try { return run(mode) } finally { await armer.disarm() } },
    targeted: () => { const s = arm(cfg); try { return run(mode) } finally { s.disarm() } },
    strace: () => run(mode, ['strace', '-f', '--seccomp-bpf', '-qq', '-o', '/dev/null', '-e', `trace=${syscall}`, '-e', `inject=${syscall}:error=EPERM:when=65535`]),
  }
  const s = await rounds(states, ROUNDS)
  spawnSamples = spawnSamples.concat(s.spawn)
  const BASE = `${syscall}() ns, nothing armed [${mech}]`
  figures.push(
    figure(`arm + disarm, 1 ${syscall} rule (${mech})`, 'ms', s.armDisarm, SPAWN),
    figure(`arm+disarm (1 ${syscall} rule, ${mech}) / spawn`, 'ratio', ratios(s.armDisarm, s.spawn), null, { goal: goal(0.1) }),
    figure(BASE, 'ns/call', s.base),
    figure(`${syscall}() ns, bystander while another process is armed (${mech})`, 'ns/call', s.bystander, BASE),
    figure(`${syscall}() ns, targeted, rule not firing (${mech})`, 'ns/call', s.targeted, BASE),
    figure(`${syscall}() ns under strace --seccomp-bpf, inject not firing [${mech} run]`, 'ns/call', s.strace, BASE),
  )
}
await armer?.close()
if (!mechs.length) notes.push(`no syscall-level mechanism on this kernel (${os.release()}): run it in a VM kernel (npm run bench -- --vm fei-6.12)`)
else figures.unshift(figure(SPAWN, 'ms', spawnSamples))
report('syscall', 'faultline syscall mechanisms: per-test cost and ns per hooked call', figures, notes)
process.exit(0)
