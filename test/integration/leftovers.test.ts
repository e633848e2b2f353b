/**
 * What a killed faultline process leaves in tc (htb qdiscs, IFB devices, cls_bpf filters) is
 * removed by the next arming of any kind, in any process, and by `faultline cleanup`; what a live
 * one holds is never touched, also when it runs in another pid namespace and its records are out
 * of sight (another mount namespace's /run), sharing this network namespace.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { withFailureConfig, cleanupLeftovers, underTcLock } from '../../packages/core/src/index.js'
import { leftoversLikely, sweep } from '../../packages/core/src/engine/state/index.js'
import { processTree, tcState } from '../support/kernel-view.js'
import { kernelLock } from '../support/kernel-lock.js'
import { skipUnless, skipUnlessAny } from '../support/requires.js'
import { watchProcess } from '../support/watch.js'

const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 600_000)
afterAll(tcLock.release)

const SLEEPER = fileURLToPath(new URL('../fixtures/armed-sleeper.mjs', import.meta.url))
const ARM_ONCE = fileURLToPath(new URL('../fixtures/arm-once.mjs', import.meta.url))
const BIN = fileURLToPath(new URL('../../packages/core/dist/cli/main.js', import.meta.url))
const children = { scope: 'children' as const }
/** Steers only UDP to port 9 on lo: nothing else on the machine is slowed while a sleeper holds it. */
const shaping = (direction: 'both' | 'egress') => ({ target: children, network: [{ name: 'bw', action: 'bandwidth', rate: '1mbit', direction, protocol: 'udp', port: 9, interface: 'lo' }] })
const clsBpf = { target: children, network: [{ name: 'd', action: 'drop', protocol: 'udp', port: 9, interface: 'lo', mechanism: 'cls-bpf' }] }
const syscallOnly = { target: children, syscalls: [{ name: 'c', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: 1 } }] }
const hex = (owner: number) => owner.toString(16).padStart(8, '0')

interface Sleeper {
  proc: ChildProcess
  owner: number
  /** Its pid in this process's pid namespace. */
  pid: number
}

/**
 * A network namespace and state directory of the test's own. What a killed sleeper leaves is
 * removed by the next arming of ANY faultline process in its network namespace, and other test
 * files arm in parallel: in the host's namespace they would sweep it before this test looks.
 */
interface Place {
  /**
   * Runs argv in the namespace, with the private state directory: nsenter, not `ip netns exec`,
   * whose new mount namespace and fresh /sys hide the cgroup2 mount at /sys/fs/cgroup/unified.
   */
  wrap: string[]
  env: NodeJS.ProcessEnv
}
let place: Place
/** The test's own network namespace and state directory, for what must hold beside other processes. */
const HOST: Place = { wrap: [], env: process.env }
const NETNS = `fl-leftovers-${process.pid}`
beforeAll(() => {
  execFileSync('ip', ['netns', 'add', NETNS])
  execFileSync('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up'])
  place = { wrap: ['nsenter', `--net=/run/netns/${NETNS}`], env: { ...process.env, FAULTLINE_STATE_DIR: tempDir('fl-leftovers-run-') } }
})
afterAll(() => {
  spawnSync('ip', ['netns', 'del', NETNS])
})

/** Arms `config` in a new process (in `where`, optionally through another wrapper, e.g. unshare) and waits until it is armed. */
async function sleeper(config: object, where: Place, wrapper: string[] = [], env: NodeJS.ProcessEnv = where.env): Promise<Sleeper> {
  const [cmd, ...args] = [...where.wrap, ...wrapper, process.execPath, SLEEPER, JSON.stringify(config)]
  const proc = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], env })
  const line = await watchProcess(proc, 'the armed sleeper').next()
  const { owner } = JSON.parse(line) as { owner: number }
  // Through a wrapper that forks (unshare --fork) node is a descendant: the pid to kill is node's.
  const pid = processTree(proc.pid!).filter((p) => readCmdline(p).includes(SLEEPER)).pop()!
  return { proc, owner, pid }
}

const readCmdline = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return ''
  }
}

async function kill(s: Sleeper): Promise<void> {
  process.kill(s.pid, 'SIGKILL')
  for (const deadline = Date.now() + 10_000; fs.existsSync(`/proc/${s.pid}`) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50))
  s.proc.kill('SIGKILL')
}

/** The next arming of another faultline process in the private namespace: a syscall rule only. */
const nextArming = () => {
  const r = spawnSync(place.wrap[0]!, [...place.wrap.slice(1), process.execPath, ARM_ONCE, JSON.stringify(syscallOnly)], { encoding: 'utf8', env: place.env })
  expect(r.status, r.stderr).toBe(0)
}

/**
 * A check of the first arming as a process in the private namespace sees it: tcLeftoversLikely()
 * (tc, over rtnetlink) or leftoversLikely() (the state directory: records and clsact markers are
 * per network namespace, so only a process in it sees them).
 */
const SWEEP_JS = fileURLToPath(new URL('../../packages/core/dist/engine/state/sweep.js', import.meta.url))
const inPlace = (check: 'tcLeftoversLikely' | 'leftoversLikely'): boolean => {
  const script = `const { ${check} } = await import(${JSON.stringify(SWEEP_JS)}); process.stdout.write(String(${check}()))`
  const r = spawnSync(place.wrap[0]!, [...place.wrap.slice(1), process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', env: place.env })
  expect(r.status, r.stderr).toBe(0)
  return r.stdout === 'true'
}
const tcCheck = () => inPlace('tcLeftoversLikely')

const shapingOf = (owner: number, netns?: string) => {
  const tc = tcState(netns)
  return {
    htb: new RegExp(`^qdisc htb fa17: dev lo root .*default 0x${hex(owner)}`, 'm').test(tc.qdiscs),
    ifb: tc.ifbs.includes(`flifb${hex(owner)}`),
  }
}
const filterOf = (owner: number) => tcState(NETNS).filters.includes(`handle 0x${owner.toString(16)} `)

/** `faultline cleanup --json`, here or in the private namespace. */
const cleanupCli = (where?: Place) => {
  const argv = [...(where?.wrap ?? []), process.execPath, BIN, 'cleanup', '--json']
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: where?.env ?? process.env })
  expect(r.status, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as { removed: { kind: string; where: string; owner: string }[]; errors: string[] }
}

beforeAll(async () => {
  // This process arms once first, so later armings take the cheap check's path.
  await withFailureConfig(syscallOnly, () => 0)
})

describe('leftovers of a SIGKILLed process', { timeout: 300_000 }, () => {
  it('the htb qdisc and IFB device of a loopback bandwidth rule are removed by the next arming with syscall rules only', async (ctx) => {
    skipUnless(ctx, 'htb', 'ifb-redirect', 'cgroup-sockaddr', 'tp_btf')
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    const s = await sleeper(shaping('both'), place)
    expect(shapingOf(s.owner, NETNS)).toEqual({ htb: true, ifb: true })
    await kill(s)
    expect(shapingOf(s.owner, NETNS)).toEqual({ htb: true, ifb: true }) // not links: they outlive the process
    expect(tcCheck()).toBe(true) // a first arming's check sees the htb without running tc
    nextArming()
    expect(shapingOf(s.owner, NETNS)).toEqual({ htb: false, ifb: false })
    expect(tcCheck()).toBe(false)
  })

  it('a cls_bpf filter and the clsact qdisc faultline created are removed by the next arming with syscall rules only', async (ctx) => {
    skipUnless(ctx, 'cls-bpf', 'cgroup-sockaddr', 'tp_btf')
    const clsactBefore = /qdisc clsact \S+ dev lo /.test(tcState(NETNS).qdiscs)
    const s = await sleeper(clsBpf, place)
    expect(filterOf(s.owner)).toBe(true)
    expect(tcCheck()).toBe(false) // its owner lives
    await kill(s)
    expect(filterOf(s.owner)).toBe(true)
    expect(tcCheck()).toBe(true) // a first arming's check sees the dead owner's filter without running tc
    nextArming() // a first arming: it sweeps because the check saw the filter
    expect(filterOf(s.owner)).toBe(false)
    expect(tcCheck()).toBe(false)
    expect(/qdisc clsact \S+ dev lo /.test(tcState(NETNS).qdiscs)).toBe(clsactBefore)
  })

  it('`faultline cleanup --json` removes them and says what it removed; a second run finds nothing of theirs', async (ctx) => {
    skipUnless(ctx, 'htb', 'ifb-redirect', 'cgroup-sockaddr', 'tp_btf')
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    const s = await sleeper(shaping('both'), place)
    await kill(s)
    const report = cleanupCli(place)
    expect(report.errors).toEqual([])
    expect(report.removed).toEqual(
      expect.arrayContaining([
        { kind: 'htb qdisc', where: 'lo', owner: hex(s.owner) },
        { kind: 'IFB device', where: `flifb${hex(s.owner)}`, owner: hex(s.owner) },
        { kind: 'record', where: `owner-${hex(s.owner)}.json`, owner: hex(s.owner) },
      ]),
    )
    expect(shapingOf(s.owner, NETNS)).toEqual({ htb: false, ifb: false })
    expect(cleanupCli(place).removed.filter((r) => r.owner === hex(s.owner))).toEqual([])
  })

  it('cleanupLeftovers() and the sweep never touch what a live process holds', async (ctx) => {
    skipUnless(ctx, 'htb', 'ifb-redirect', 'cgroup-sockaddr', 'tp_btf')
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    const s = await sleeper(shaping('both'), HOST)
    try {
      // underTcLock: a synchronous cleanupLeftovers() fails at once while another test file's
      // process changes tc state (as the README says); the CLI waits the same way
      expect((await underTcLock(cleanupLeftovers)).removed.filter((r) => r.owner === hex(s.owner))).toEqual([])
      expect(cleanupCli().removed.filter((r) => r.owner === hex(s.owner))).toEqual([])
      await withFailureConfig(syscallOnly, () => 0)
      expect(shapingOf(s.owner)).toEqual({ htb: true, ifb: true })
    } finally {
      await kill(s)
    }
    // Dead now: gone after cleanupLeftovers() (or already, if another process's arming swept first:
    // every arming on the machine sweeps, and other test files arm in parallel)
    await underTcLock(cleanupLeftovers)
    expect(shapingOf(s.owner)).toEqual({ htb: false, ifb: false })
  })
})

describe('an owner in another pid namespace sharing this network namespace', { timeout: 300_000 }, () => {
  it('is not swept while it lives, though its pid means nothing here and its records are out of sight; is swept once it died', async (ctx) => {
    skipUnless(ctx, 'htb', 'ifb-redirect', 'cgroup-sockaddr', 'tp_btf')
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    // Its own pid namespace (node is pid 1 there) and its own state directory, as another mount
    // namespace's /run would be: only the network namespace is shared.
    const otherRun = tempDir('fl-other-run-')
    const s = await sleeper(shaping('both'), place, ['unshare', '--pid', '--fork', '--mount-proc'], { ...place.env, FAULTLINE_STATE_DIR: otherRun })
    try {
      expect(execFileSync('cat', [`/proc/${s.pid}/status`], { encoding: 'utf8' })).toMatch(/^NSpid:\s+\d+\s+1$/m)
      expect(shapingOf(s.owner, NETNS)).toEqual({ htb: true, ifb: true })
      nextArming()
      expect(cleanupCli(place).removed.filter((r) => r.owner === hex(s.owner))).toEqual([])
      expect(shapingOf(s.owner, NETNS)).toEqual({ htb: true, ifb: true })
    } finally {
      await kill(s)
    }
    expect(shapingOf(s.owner, NETNS)).toEqual({ htb: true, ifb: true })
    nextArming()
    expect(shapingOf(s.owner, NETNS)).toEqual({ htb: false, ifb: false })
    fs.rmSync(otherRun, { recursive: true, force: true })
  })
})

describe('the cheap check at every arming', () => {
  it('finds nothing when nothing is left, and measures what it costs', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    sweep()
    expect(leftoversLikely()).toBe(false)
    const n = 2000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) leftoversLikely()
    const cheap = (performance.now() - t0) / n
    const t1 = performance.now()
    sweep()
    const full = performance.now() - t1
    console.log(`[leftovers] cheap check ${(cheap * 1000).toFixed(1)} us per arming (median-free mean of ${n}); full sweep ${full.toFixed(1)} ms (${fs.readdirSync('/sys/class/net').length} interfaces)`)
    // what it is for: one check costs less than the sweep it spares (an order, not a duration)
    expect(cheap).toBeLessThan(full)
  })

  it('finds what a killed owner left: its clsact marker in the state directory', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf', 'cls-bpf')
    // in the private state directory and namespace: another file's arming in the host's would sweep it first
    const s = await sleeper(clsBpf, place)
    expect(inPlace('leftoversLikely')).toBe(false) // its owner lives
    await kill(s)
    const dir = place.env.FAULTLINE_STATE_DIR!
    const netns = fs.statSync(`/run/netns/${NETNS}`).ino
    // the marker alone: without the owner's record, only the marker can tell
    for (const f of fs.readdirSync(dir)) if (!f.startsWith(`clsact-${netns}-`)) fs.rmSync(path.join(dir, f), { recursive: true, force: true })
    expect(fs.readdirSync(dir).length).toBeGreaterThan(0)
    expect(inPlace('leftoversLikely')).toBe(true)
    nextArming()
    expect(inPlace('leftoversLikely')).toBe(false)
  })
})
