// Network rules, each figure beside its baseline from the same run:
//   1. arm + disarm of a 1-rule drop config (TC programs + socket marking), in the default mode
//      (detached after each window: goals <= 0.3x right after a spawnSync, <= 0.15x back to back)
//      and with links kept (the opt-in), and of a bandwidth config (the same plus faultline's htb,
//      back to back, default mode), vs spawnSync('/bin/true'): goal <= 2x
//   2. a bystander loopback TCP flow (throughput, 1-byte round trip, 1-byte request answered by
//      64 KB) with nothing armed, and while
//      another process has a drop or a bandwidth rule armed
// The labels name the mechanism the engine chose (tcx or cls-bpf), read from the handle. Arming
// and spawning are measured in the armer (lib/armer.mjs, a process with no child of its own) as
// batches of back-to-back ops, as in arm-disarm.mjs (docs/performance.md: method).
// usage: node test/bench/network.mjs   (after npm run build, as root)
//   knobs: ROUNDS, N_ARM (drop arm+disarm per round), N_SHAPE, N_SPAWN, FLOW_MB, RTT_N, REQ_N, FAULTLINE_BENCH_SCALE
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { figure, goal, knob, ratios, report, rounds } from './lib/measure.mjs'
import { startArmer } from './lib/armer-client.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.ROUNDS ?? 11) // not scaled: the IQR needs rounds
const N_ARM = knob('N_ARM', 20)
const N_SHAPE = knob('N_SHAPE', 3)
const N_SPAWN = knob('N_SPAWN', 20)
const FLOW_MB = knob('FLOW_MB', 400)
const RTT_N = knob('RTT_N', 20000)
const REQ_N = knob('REQ_N', 5000)

const dropRule = { network: [{ name: 'd', action: 'drop', protocol: 'udp', port: 9 }] }
const shapeRule = { network: [{ name: 'b', action: 'bandwidth', rate: '1mbit', protocol: 'udp', port: 9 }] }
const armer = startArmer()
const mechanismOf = async (config) => (await armer.op('mechanisms', { config }))[0]
const dropMech = await mechanismOf(dropRule) // also the armer's first load
const shapeMech = `${await mechanismOf(shapeRule)}+htb`

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'))
const bin = path.join(dir, 'loopback-flow')
execFileSync('cc', ['-O2', '-o', bin, path.join(here, 'loopback-flow.c')])
const flow = () => ({
  tput: Number(execFileSync(bin, ['tput', String(FLOW_MB)], { encoding: 'utf8' })),
  rtt: Number(execFileSync(bin, ['rtt', String(RTT_N)], { encoding: 'utf8' })),
  req: Number(execFileSync(bin, ['req64k', String(REQ_N)], { encoding: 'utf8' })),
})
const armedFlow = async (rule) => { await armer.op('mode', { keep: false }); await armer.arm(rule); try { return flow() } finally { await armer.disarm() } }
const s = await rounds({
  spawn: async () => (await armer.op('spawn', { n: N_SPAWN })).ms,
  drop: async () => (await armer.op('arm', { config: dropRule, n: N_ARM })).ms,
  dropAfterSpawn: async () => (await armer.op('arm', { config: dropRule, n: N_ARM, before: 'spawn' })).ms,
  keptDrop: async () => (await armer.op('arm', { config: dropRule, n: N_ARM, keep: true })).ms,
  keptDropAfterSpawn: async () => (await armer.op('arm', { config: dropRule, n: N_ARM, before: 'spawn', keep: true })).ms,
  shape: async () => (await armer.op('arm', { config: shapeRule, n: N_SHAPE })).ms,
  flowBase: async () => { await armer.op('release'); return flow() },
  flowDrop: () => armedFlow(dropRule),
  flowShape: () => armedFlow(shapeRule),
}, ROUNDS)
await armer.close()
const pick = (xs, k) => xs.map((x) => x[k])

const SPAWN = "spawnSync('/bin/true')"
const TPUT = 'bystander loopback TCP MB/s, nothing armed'
const RTT = 'bystander loopback TCP 1-byte round trip us, nothing armed'
const REQ = 'bystander 64 KB response us, nothing armed'
report('network', `faultline network rules: per-test cost and bystander flows (${dropMech})`, [
  figure(SPAWN, 'ms', s.spawn),
  figure(`arm + disarm, 1 drop rule, right after a spawnSync, default (${dropMech})`, 'ms', s.dropAfterSpawn, SPAWN),
  figure(`arm + disarm, 1 drop rule, back to back, default (${dropMech})`, 'ms', s.drop, SPAWN),
  figure(`arm + disarm, 1 drop rule, right after a spawnSync, links kept (${dropMech})`, 'ms', s.keptDropAfterSpawn, SPAWN),
  figure(`arm + disarm, 1 drop rule, back to back, links kept (${dropMech})`, 'ms', s.keptDrop, SPAWN),
  figure(`arm + disarm, 1 bandwidth rule (${shapeMech})`, 'ms', s.shape, SPAWN),
  figure('arm+disarm (1 drop rule) right after a spawnSync / spawn, default', 'ratio', ratios(s.dropAfterSpawn, s.spawn), null, { goal: goal(0.3) }),
  figure('arm+disarm (1 drop rule) back to back / spawn, default', 'ratio', ratios(s.drop, s.spawn), null, { goal: goal(0.15) }),
  figure('arm+disarm (1 drop rule) right after a spawnSync / spawn, links kept', 'ratio', ratios(s.keptDropAfterSpawn, s.spawn)),
  figure('arm+disarm (1 drop rule) back to back / spawn, links kept', 'ratio', ratios(s.keptDrop, s.spawn)),
  figure('arm+disarm (1 bandwidth rule) / spawn', 'ratio', ratios(s.shape, s.spawn), null, { goal: goal(2) }),
  figure(TPUT, 'MB/s', pick(s.flowBase, 'tput')),
  figure(`bystander loopback TCP MB/s, drop rule armed (${dropMech})`, 'MB/s', pick(s.flowDrop, 'tput'), TPUT),
  figure(`bystander loopback TCP MB/s, bandwidth rule armed (${shapeMech})`, 'MB/s', pick(s.flowShape, 'tput'), TPUT),
  figure(RTT, 'us', pick(s.flowBase, 'rtt')),
  figure(`bystander loopback TCP 1-byte round trip us, drop rule armed (${dropMech})`, 'us', pick(s.flowDrop, 'rtt'), RTT),
  figure(`bystander loopback TCP 1-byte round trip us, bandwidth rule armed (${shapeMech})`, 'us', pick(s.flowShape, 'rtt'), RTT),
  figure(REQ, 'us', pick(s.flowBase, 'req')),
  figure(`bystander 64 KB response us, drop rule armed (${dropMech})`, 'us', pick(s.flowDrop, 'req'), REQ),
  figure(`bystander 64 KB response us, bandwidth rule armed (${shapeMech})`, 'us', pick(s.flowShape, 'req'), REQ),
  figure('bystander round trip, drop armed / unarmed', 'ratio', ratios(pick(s.flowDrop, 'rtt'), pick(s.flowBase, 'rtt'))),
  figure('bystander 64 KB response, drop armed / unarmed', 'ratio', ratios(pick(s.flowDrop, 'req'), pick(s.flowBase, 'req'))),
], [`${ROUNDS} rounds in random order; drop arm+disarm ${N_ARM} per round and state, bandwidth ${N_SHAPE} per round; flows of ${FLOW_MB} MB, ${RTT_N} round trips and ${REQ_N} 64 KB responses (medians)`,
  'arm+disarm and spawn run in the armer process (no child of its own), each state a batch of back-to-back ops timed one by one (mean per op)',
  'the flows are siblings of the armer process: outside its target tree'])
process.exit(0)
