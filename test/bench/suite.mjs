// The suite figure: one Vitest file of N tests, each arming a 1-rule config through
// withFailureConfig around an empty callback, against the same file whose tests call the callback
// without faultline. Wall time of the whole `vitest run` (start-up included), ratio per round.
// Configs: socket (connect rule), drop, shaping (N_SUITE_SHAPE tests: each arming installs htb),
// and syscall where this kernel has a syscall-entry mechanism (the VM run).
// knobs: ROUNDS, N_SUITE (1000), N_SUITE_SHAPE (100), SUITE_BUDGET_S (20: a config whose arming
// is slow runs fewer tests, named in the notes), FAULTLINE_BENCH_SCALE
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { arm, probeFeature, validateConfig } from '../../packages/core/dist/index.js'
import { figure, knob, meanMs, ratios, report, rounds } from './lib/measure.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '../..')
const ROUNDS = Number(process.env.ROUNDS ?? 2) // not scaled: the IQR needs rounds
const N = knob('N_SUITE', 1000)
const N_SHAPE = knob('N_SUITE_SHAPE', 100)
const core = path.join(repo, 'packages/core/dist/index.js')
const vitest = path.join(repo, 'node_modules/vitest/vitest.mjs')

const syscallMech = ['fmod-ret-syscall', 'kprobe-override', 'lsm'].find((m) => probeFeature(m).available)
const configs = {
  socket: { n: N, cfg: { syscalls: [{ name: 'r', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: 1 } }] } },
  drop: { n: N, cfg: { network: [{ name: 'd', action: 'drop', protocol: 'udp', port: 9 }] } },
  shaping: { n: N_SHAPE, cfg: { network: [{ name: 'b', action: 'bandwidth', rate: '1mbit', protocol: 'udp', port: 9 }] } },
}
if (syscallMech) configs.syscall = { n: N, cfg: { syscalls: [{ name: 'r', syscall: 'openat', errno: 'EACCES', mechanism: syscallMech, match: { path: '/nonexistent/*' } }] } }

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-suite-'))
/** Writes <name>.test.mjs: n tests, each around `withFailureConfig(cfg)` or around nothing. */
function writeFile(name, n, cfg) {
  const body = cfg
    ? `import { withFailureConfig } from ${JSON.stringify(core)}\nconst cfg = ${JSON.stringify(cfg)}\nconst each = (fn) => withFailureConfig(cfg, fn)\n`
    : 'const each = async (fn) => fn()\n'
  const file = path.join(dir, `${name}.test.mjs`)
  fs.writeFileSync(file, `${body}for (let i = 0; i < ${n}; i++) test(\`t\${i}\`, () => each(async () => {}))\n`)
  return file
}
const vitestMs = (file) => {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [vitest, 'run', '--root', dir, '--globals', '--pool', 'forks', '--testTimeout', '600000', path.basename(file)], { encoding: 'utf8', cwd: dir })
  if (r.status !== 0) throw new Error(`vitest ${file}: exit ${r.status}\n${r.stdout}\n${r.stderr}`)
  return performance.now() - t0
}

// A config whose arming is slow runs fewer tests, so a round stays within SUITE_BUDGET_S.
const budgetMs = knob('SUITE_BUDGET_S', 20) * 1000
const notes = [`${ROUNDS} rounds in random order; wall time of \`vitest run\` of one generated file (start-up included)`]
if (N_SHAPE < N) notes.push(`shaping is planned with ${N_SHAPE} tests, not ${N} (N_SUITE_SHAPE): each arming installs faultline's htb`)
const groups = new Map()
for (const [name, c] of Object.entries(configs)) {
  arm(validateConfig(c.cfg)).disarm() // the first load is not a test's cost
  const cost = meanMs(() => arm(validateConfig(c.cfg)).disarm(), 3)
  const n = Math.min(c.n, Math.max(10, Math.floor(budgetMs / cost / 10) * 10))
  if (n < c.n) notes.push(`${name}: ${n} tests, not ${c.n} (arm+disarm ~${cost.toFixed(0)} ms each here; SUITE_BUDGET_S=${budgetMs / 1000})`)
  groups.set(n, [...(groups.get(n) ?? []), name])
}
const figures = []
for (const [n, names] of [...groups].sort((a, b) => b[0] - a[0])) {
  const plain = writeFile(`plain-${n}`, n, undefined)
  const states = { plain: () => vitestMs(plain) }
  for (const name of names) {
    const file = writeFile(name, n, configs[name].cfg)
    states[name] = () => vitestMs(file)
  }
  const s = await rounds(states, ROUNDS)
  const BASE = `vitest file of ${n} tests without faultline`
  figures.push(figure(BASE, 'ms', s.plain))
  for (const name of names) figures.push(
    figure(`vitest file of ${n} tests, each arming 1 ${name} rule`, 'ms', s[name], BASE),
    figure(`suite ratio, ${name} (${n} tests)`, 'ratio', ratios(s[name], s.plain)),
    figure(`suite cost per test, ${name}`, 'ms', s[name].map((x, i) => (x - s.plain[i]) / n)),
  )
}
if (!syscallMech) notes.push(`no syscall-entry mechanism on this kernel (${os.release()}): the syscall suite figure comes from the VM run`)
report('suite', 'a suite of 1-rule tests with and without faultline', figures, notes)
process.exit(0)
