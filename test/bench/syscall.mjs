// Overhead per hooked syscall, per mechanism, against no faultline and against strace's fastest
// mode (seccomp-bpf: only the traced syscall stops), in one run with interleaved rounds.
// Run it where the mechanisms exist:
//   npm run vm -- --kernel fei-6.12 -- node test/bench/syscall.mjs      (fmod_ret, kprobe)
//   npm run vm -- --kernel debian-6.12 -- node test/bench/syscall.mjs   (lsm, security fmod_ret)
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, validateConfig, probeFeature } from '../../packages/core/dist/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const N = Number(process.env.N_CALLS ?? 50000)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-sysbench-'))
const bin = path.join(dir, 'fl-bench')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'syscall-loop.c')])
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const run = (mode, prefix = []) => Number(execFileSync(prefix[0] ?? bin, [...prefix.slice(1), ...(prefix.length ? [bin] : []), mode, String(N)], { encoding: 'utf8' }).trim().split('\n').pop())

const rows = []
for (const mech of ['fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret']) {
  if (!probeFeature(mech).available) continue
  const lsm = mech === 'lsm' || mech === 'security-fmod-ret'
  const mode = lsm ? 'kill0' : 'close'
  const syscall = lsm ? 'kill' : 'close'
  const rule = (target) => validateConfig({ target, syscalls: [{ name: 'r', syscall, errno: 'EPERM', mechanism: mech, when: { after: '1h' } }] })
  const states = {
    base: () => run(mode),
    untargeted: () => { const s = arm(rule({ scope: 'system', comm: ['fl-nobody'] })); try { return run(mode) } finally { s.disarm() } },
    targeted: () => { const s = arm(rule({ scope: 'children' })); try { return run(mode) } finally { s.disarm() } },
    strace: () => run(mode, ['strace', '-f', '--seccomp-bpf', '-qq', '-o', '/dev/null', '-e', `trace=${syscall}`, '-e', `inject=${syscall}:error=EPERM:when=65535`]),
  }
  const samples = Object.fromEntries(Object.keys(states).map((k) => [k, []]))
  for (let r = 0; r < ROUNDS; r++) for (const [k, f] of Object.entries(states)) samples[k].push(f())
  rows.push([mech, syscall, ...Object.keys(states).map((k) => median(samples[k]))])
}
console.log(`syscall overhead, ns per call (median of ${ROUNDS} interleaved rounds x ${N} calls; ${os.release()})`)
console.log('mechanism          syscall   no faultline  untargeted(armed)  targeted,not firing  strace --seccomp-bpf')
for (const [m, s, base, un, tg, st] of rows) {
  console.log(`${m.padEnd(18)} ${s.padEnd(8)} ${base.toFixed(0).padStart(12)} ${`${un.toFixed(0)} (+${(un - base).toFixed(0)})`.padStart(18)} ${`${tg.toFixed(0)} (+${(tg - base).toFixed(0)})`.padStart(20)} ${`${st.toFixed(0)} (x${(st / base).toFixed(0)})`.padStart(21)}`)
}
if (!rows.length) console.log('no syscall-level mechanism on this kernel')
process.exit(0)
