/**
 * Crashes: a faultline process dies by SIGKILL, SIGTERM or an uncaught exception at a random
 * point of arming, running or disarming, over configs mixing socket and syscall rules (cgroup),
 * drop rules (TC) and bandwidth shaping (htb, IFB for ingress). Afterwards, once another
 * faultline process has armed (with syscall rules only) or after `faultline cleanup`, nothing
 * of the dead process may remain: no BPF link or program it held, no tc filter, qdisc or IFB
 * device, no state file. Runs in a private network namespace with a private state directory,
 * so other processes' tc state never mixes with what is measured.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { bpfIdsOf, helperOutput, liveBpfIds, survivors, type BpfIds } from '../support/kernel-view.js'
import { has, requires } from '../support/requires.js'
import { CLI, CORE, FIXTURES, SEED, lineReader, prng, recordFigures, scaled } from './support.js'

const CRASHES = scaled(200, 10)
const NS = `flrel${process.pid}`
const STATE = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-rel-state-'))
const ENV = { ...process.env, FAULTLINE_STATE_DIR: STATE, FAULTLINE_CORE: CORE }
const TCP_PORT = 40100
const UDP_PORT = 40101

// `ip netns exec` mounts a sysfs of the namespace (faultline lists interfaces there) over /sys,
// hiding the cgroup2 mount: mount cgroup2 again inside (the same hierarchy), then exec.
const nsArgs = (cmd: string, args: string[]) => ['netns', 'exec', NS, 'sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; exec "$0" "$@"', cmd, ...args]
const inNs = (cmd: string, args: string[]) => spawnSync('ip', nsArgs(cmd, args), { encoding: 'utf8', env: ENV })
// Reading the namespace's tc state needs only its netlink: nsenter, no mounts. A failed nsenter,
// tc or ip throws (helperOutput): it must not read as "nothing left".
const nsOut = (cmd: string, args: string[]) => helperOutput('nsenter', [`--net=/run/netns/${NS}`, cmd, ...args])
// Removing what may not be there (resetNamespace): a failure is expected, and the next check looks again.
const nsTry = (cmd: string, args: string[]) => spawnSync('nsenter', [`--net=/run/netns/${NS}`, cmd, ...args], { encoding: 'utf8' })

/** Which of `ids` are still live bpf_links, polling up to `ms` (a dead process's links go with its fds). */
async function linksLeft(ids: number[], ms = 5_000): Promise<number[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const live = new Set(liveBpfIds().links) // bpftool; throws if it fails
    const left = ids.filter((id) => live.has(id))
    if (!left.length || Date.now() > deadline) return left
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** What faultline can leave in the namespace, minus what was there before it ran. */
interface Leftovers {
  qdiscs: string[]
  filters: string[]
  ifbs: string[]
  stateFiles: string[]
  links: number[]
}
let baselineQdiscs: string[] = []
function tcLeftovers(): Omit<Leftovers, 'links'> {
  const qdiscs = nsOut('tc', ['qdisc', 'show']).replace(/ direct_packets_stat \d+/g, '').split('\n').filter((l) => l && !baselineQdiscs.includes(l))
  const devs = nsOut('ip', ['-o', 'link', 'show']).split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((d): d is string => !!d)
  const filters = devs.flatMap((d) => ['ingress', 'egress'].flatMap((h) => nsOut('tc', ['filter', 'show', 'dev', d, h]).split('\n').filter((l) => l.startsWith('filter')).map((l) => `${d} ${h}: ${l}`)))
  return {
    qdiscs,
    filters,
    ifbs: devs.filter((d) => d.startsWith('flifb')),
    stateFiles: fs.readdirSync(STATE).filter((f) => !f.endsWith('.lock')),
  }
}
const describeLeft = (l: Leftovers) =>
  [...l.qdiscs, ...l.filters.map((f) => `filter ${f}`), ...l.ifbs.map((i) => `ifb ${i}`), ...l.stateFiles.map((f) => `state file ${f}`), ...l.links.map((id) => `bpf link ${id}`)]

/** Removes by hand what faultline failed to remove: every root and clsact qdisc, flifb devices, state files. */
function resetNamespace(): void {
  const devs = nsOut('ip', ['-o', 'link', 'show']).split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((d): d is string => !!d)
  for (const d of devs) {
    if (d.startsWith('flifb')) nsTry('ip', ['link', 'del', d])
    else {
      nsTry('tc', ['qdisc', 'del', 'dev', d, 'root'])
      nsTry('tc', ['qdisc', 'del', 'dev', d, 'clsact'])
    }
  }
  for (const f of fs.readdirSync(STATE)) if (!f.endsWith('.lock')) fs.rmSync(path.join(STATE, f), { recursive: true, force: true })
}

const RULES = {
  socket: { syscalls: [{ name: 'sock', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: TCP_PORT } }] },
  syscall: { syscalls: [{ name: 'sys', syscall: 'bind', errno: 'EADDRINUSE', match: { port: 1 } }] },
  drop: { network: [{ name: 'drop', action: 'drop', direction: 'egress', protocol: 'udp', port: UDP_PORT }] },
  shaping: { network: [{ name: 'shape', action: 'bandwidth', rate: '1mbit', direction: 'egress', protocol: 'udp', port: UDP_PORT }] },
  'shaping-ingress': { network: [{ name: 'shape-in', action: 'bandwidth', rate: '1mbit', direction: 'both', protocol: 'tcp', port: TCP_PORT }] },
} as const
type Kind = keyof typeof RULES
function configOf(kinds: Kind[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {}
  for (const k of kinds) for (const [key, rules] of Object.entries(RULES[k])) out[key] = [...(out[key] ?? []), ...rules]
  return out
}

const HOW = ['SIGKILL', 'SIGTERM', 'exception'] as const
const PHASES = ['arm', 'run', 'disarm'] as const
// How long after a phase's marker the crash may come (ms): about the phase's length here.
const SPREAD = { arm: 250, run: 80, disarm: 40 }

interface Crash {
  i: number
  how: (typeof HOW)[number]
  /** The phase the crash aimed at, and the one observed: the child's last marker before it died. */
  phase: (typeof PHASES)[number]
  seenPhase: string
  kinds: Kind[]
  verify: 'armed again' | 'faultline cleanup'
  leftByCrash: string[]
  leftAfter: string[]
  error?: string
}

let armAgain: ChildProcess
let armAgainLines: ReturnType<typeof lineReader>
let cleanupAvailable = true

beforeAll(async () => {
  spawnSync('ip', ['netns', 'add', NS])
  inNs('ip', ['link', 'set', 'lo', 'up'])
  baselineQdiscs = nsOut('tc', ['qdisc', 'show']).split('\n').filter(Boolean)
  armAgain = spawn('ip', nsArgs(process.execPath, [path.join(FIXTURES, 'arm-again.mjs'), JSON.stringify(RULES.syscall)]), { env: ENV, stdio: ['pipe', 'pipe', 'inherit'] })
  armAgainLines = lineReader(armAgain.stdout!)
  expect(await armAgainLines.next()).toBe('ready')
})

afterAll(() => {
  armAgain?.kill('SIGKILL')
  inNs(process.execPath, [CLI, 'cleanup'])
  spawnSync('ip', ['netns', 'del', NS])
  fs.rmSync(STATE, { recursive: true, force: true })
})

/**
 * The rule kinds crashes draw from, and those left out with the kernel's reason (recorded in the
 * figures, so the report never claims a kind it did not crash). A failed probe throws (ProbeError).
 */
function crashPool(): { pool: Kind[]; leftOut: Record<string, string> } {
  const leftOut: Record<string, string> = {}
  const shaping = requires('htb')
  if (shaping) leftOut.shaping = shaping
  const ingress = requires('ifb', 'ifb-redirect', 'htb')
  if (ingress) leftOut['shaping-ingress'] = ingress
  const pool = (Object.keys(RULES) as Kind[]).filter((k) => !leftOut[k])
  return { pool, leftOut }
}

async function crashOnce(i: number, r: ReturnType<typeof prng>): Promise<Crash> {
  const { pool } = crashPool()
  let kinds = pool.filter(() => r.int(2) === 1)
  if (!kinds.length) kinds = [r.pick(pool)]
  const how = r.pick(HOW)
  const phase = r.pick(PHASES)
  const nth = 1 + r.int(2)
  const delay = r.int(SPREAD[phase])
  const verify = i % 2 === 0 || !cleanupAvailable ? 'armed again' : 'faultline cleanup'
  const child = spawn('ip', nsArgs(process.execPath, [path.join(FIXTURES, 'crash-child.mjs'), JSON.stringify(configOf(kinds)), String(TCP_PORT), String(UDP_PORT)]), { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  const lines = lineReader(child.stdout!)
  let seen = 0
  for (;;) {
    const line = await lines.next()
    if (!line) throw new Error(`crash child exited before ${phase} #${nth}: ${stderr}`)
    if (line === phase && ++seen === nth) break
  }
  await new Promise((res) => setTimeout(res, delay))
  const held: BpfIds = bpfIdsOf(child.pid!) // `ip netns exec` execs node: the same pid
  if (how === 'exception') child.kill('SIGUSR2')
  else child.kill(how)
  await exited
  // The phase the child was in when it died: the last marker it printed (stdout to a pipe is
  // synchronous in Node, and every line is read by 'close'), not the one the crash aimed at.
  const seenPhase = lines.all.at(-1) ?? ''
  const t0 = Date.now()
  const leftLinks = await linksLeft(held.links)
  const leftByCrash = describeLeft({ ...tcLeftovers(), links: leftLinks })
  let error: string | undefined
  if (verify === 'armed again') {
    armAgain.stdin!.write('\n')
    const reply = await armAgainLines.next()
    if (reply !== 'armed') error = `arming again: ${reply}`
  } else {
    const c = inNs(process.execPath, [CLI, 'cleanup', '--json'])
    if (c.status === 2 && /unknown|usage/i.test(c.stderr + c.stdout)) cleanupAvailable = false
    else if (c.status !== 0) error = `faultline cleanup exited ${c.status}: ${c.stderr}`
  }
  const leftAfter = describeLeft({ ...tcLeftovers(), links: await linksLeft(held.links) })
  if (leftAfter.length) resetNamespace() // so that the next crash is judged on its own
  if (process.env.FAULTLINE_RELIABILITY_DEBUG) console.log(`crash ${i}: ${Date.now() - t0} ms to check`)
  allHeld.progs.push(...held.progs)
  allHeld.maps.push(...held.maps)
  return { i, how, phase, seenPhase, kinds, verify, leftByCrash, leftAfter, ...(error ? { error } : {}) }
}
const allHeld: BpfIds = { progs: [], maps: [], links: [] }

describe('crashes', () => {
  it('the residue check finds leftovers planted on purpose: live links, qdiscs, a tc filter, an IFB device, a state file', async () => {
    // A faultline process stopped while armed: its links are live, and linksLeft must say so.
    const child = spawn('ip', nsArgs(process.execPath, [path.join(FIXTURES, 'crash-child.mjs'), JSON.stringify(configOf(['socket'])), String(TCP_PORT), String(UDP_PORT)]), { env: ENV, stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
    const lines = lineReader(child.stdout!)
    while ((await lines.next()) !== 'run') {
      // until armed
    }
    child.kill('SIGSTOP')
    const held = bpfIdsOf(child.pid!)
    const whileStopped = await linksLeft(held.links, 0)
    child.kill('SIGKILL')
    await exited
    expect(held.links.length).toBeGreaterThan(0)
    expect(whileStopped).toEqual(held.links)
    // the dead child's owner record and cgroup: swept by the next arming
    armAgain.stdin!.write('\n')
    expect(await armAgainLines.next()).toBe('armed')
    expect(await linksLeft(held.links)).toEqual([])
    // tc state, an IFB device, a state file, planted in the namespace by hand
    nsOut('tc', ['qdisc', 'add', 'dev', 'lo', 'clsact'])
    nsOut('tc', ['filter', 'add', 'dev', 'lo', 'ingress', 'bpf', 'bytecode', '1,6 0 0 0,'])
    if (has('htb')) nsOut('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb'])
    if (has('ifb')) nsOut('ip', ['link', 'add', 'flifbplanted', 'type', 'ifb'])
    fs.writeFileSync(path.join(STATE, 'planted'), '')
    const found = tcLeftovers()
    expect(found.qdiscs.filter((l) => /^qdisc clsact /.test(l))).toHaveLength(1)
    expect(found.filters.filter((f) => f.startsWith('lo ingress: filter'))).not.toEqual([])
    if (has('htb')) expect(found.qdiscs.filter((l) => /^qdisc htb 1: dev lo root/.test(l))).toHaveLength(1)
    expect(found.ifbs).toEqual(has('ifb') ? ['flifbplanted'] : [])
    expect(found.stateFiles).toEqual(['planted'])
    resetNamespace()
    expect(describeLeft({ ...tcLeftovers(), links: [] })).toEqual([])
  })

  it(`${CRASHES} crashes at random points leave nothing once faultline arms again or cleans up`, async () => {
    const r = prng(SEED)
    const crashes: Crash[] = []
    const started = Date.now()
    for (let i = 0; i < CRASHES; i++) crashes.push(await crashOnce(i, r))
    const progsLeft = await survivors(allHeld, 15_000)
    const bad = crashes.filter((c) => c.leftAfter.length || c.error)
    const table: Record<string, { crashes: number; leftSomething: number; stillLeft: number }> = {}
    for (const c of crashes) {
      const key = `${c.how} during ${c.seenPhase}`
      table[key] ??= { crashes: 0, leftSomething: 0, stillLeft: 0 }
      table[key].crashes++
      if (c.leftByCrash.length) table[key].leftSomething++
      if (c.leftAfter.length || c.error) table[key].stillLeft++
    }
    const category = (what: string) => (what.startsWith('qdisc ') ? `qdisc ${what.split(' ')[1]}` : what.startsWith('filter') ? 'tc filter' : what.startsWith('ifb') ? 'IFB device' : what.startsWith('state') ? 'state file' : 'bpf link')
    // How many crashes left each kind of thing.
    const kindsLeft = (f: (c: Crash) => string[]) => {
      const m: Record<string, number> = {}
      for (const c of crashes) for (const k of new Set(f(c).map(category))) m[k] = (m[k] ?? 0) + 1
      return m
    }
    recordFigures('crash', {
      crashes: CRASHES,
      ...crashPool(),
      seconds: Math.round((Date.now() - started) / 1000),
      cleanupAvailable,
      byCase: table,
      leftByCrash: kindsLeft((c) => c.leftByCrash),
      stillLeft: kindsLeft((c) => c.leftAfter),
      bpfObjectsLeft: { progs: progsLeft.progs.length, maps: progsLeft.maps.length },
      failures: bad.slice(0, 20),
    })
    expect(cleanupAvailable).toBe(true)
    expect(bad).toEqual([])
    expect(progsLeft).toEqual({ progs: [], maps: [], links: [] })
  })
})
