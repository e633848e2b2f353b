/**
 * Delay, jitter and bandwidth for the targets' traffic only, measured by real flows on lo:
 * a Python child (the target, scope 'children') against a peer in this process (untargeted).
 * Bandwidth runs on the host (htb, IFB); delay needs netem and runs in the VM matrix.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execSync, spawn, spawnSync } from 'node:child_process'
import dgram from 'node:dgram'
import net from 'node:net'
import path from 'node:path'
import fs from 'node:fs'
import { withFailureConfig, FaultlineUnsupportedError } from '../../packages/core/src/index.js'
import { FIXTURES, runJson } from '../support/net.js'
import { bpfIdsOf, viewDiff } from '../support/kernel-view.js'
import { requires, skipBecause, skipUnless, skipUnlessAny } from '../support/requires.js'
import { kernelLock } from '../support/kernel-lock.js'
import { watchProcess } from '../support/watch.js'

const FLOW = path.join(FIXTURES, 'flow.py')
const children = { scope: 'children' as const }
/**
 * The first window of a process attaches the links it keeps for its life (tracking, socket marks
 * and the MSS clamp, the TC programs on lo): one shaping window first, so that a test's "before"
 * holds them and "after" must equal it.
 */
let warm = false
async function warmUp(): Promise<void> {
  if (warm) return
  warm = true
  try {
    await withFailureConfig({ target: { scope: 'children' }, network: [{ name: 'warm-up', action: 'bandwidth', rate: '1mbit', direction: 'egress', protocol: 'tcp', port: 9 }] }, () => 0)
  } catch (err) {
    if (!(err instanceof FaultlineUnsupportedError)) throw err // no htb here: refused, nothing attached or kept
  }
}

const tcView = () => ({
  // a qdisc's refcnt counts who holds it at this instant (a socket mid-send), not what is attached
  qdiscs: execSync('tc qdisc show', { encoding: 'utf8' }).replace(/ refcnt \d+/g, ''),
  links: execSync('ip -o link show', { encoding: 'utf8' }).replace(/\s+link\/.*$/gm, ''),
  bpfLinks: bpfIdsOf().links,
})

/**
 * tc and the interfaces are as `before`: the changed lines in the failure message. A difference
 * that is gone a second later was another test file's passing change (interfaces are
 * machine-wide), not something a disarm left: a leftover stays.
 */
async function expectTcAsBefore(before: ReturnType<typeof tcView>): Promise<void> {
  let diff = viewDiff(before, tcView())
  if (diff.length) {
    await new Promise((r) => setTimeout(r, 1000))
    diff = viewDiff(before, tcView())
  }
  expect(diff, `tc and the interfaces after disarm: ${diff.join('; ')}`).toEqual([])
}

// An echo peer for round trips, and a sink that times what it receives.
let echo: dgram.Socket
let echoPort: number
const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 1_200_000) // under emulation the other tc files hold it for minutes
afterAll(tcLock.release)
beforeAll(async () => {
  echo = dgram.createSocket('udp4')
  echo.on('message', (m, r) => echo.send(m, r.port, r.address))
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r))
  echoPort = echo.address().port
  // The first arm of a process loads the objects (kept for its life; no link outlives a window).
  await withFailureConfig({ target: children, syscalls: [{ name: 'warm-up', syscall: 'bind', errno: 'EPERM', match: { port: 1 } }] }, () => 0)
})
afterAll(() => echo.close())
// Python children and timed flows: slow to start under the VM matrix's emulation.
const SLOW = { timeout: 120_000 }

interface Flow { bytes: number; bps: number }
interface Sink { port: number; done: Promise<Flow> }

/**
 * The steady rate of a flow, as test/fixtures/flow.py computes it: a shaper lets the first
 * packet through at once (on lo one GSO packet can be 64 KB), so what arrived in the first
 * 50 ms is left out, and the rest is divided by the time since the first arrival.
 */
function steadyRate(arrivals: [number, number][]): Flow {
  const bytes = arrivals.reduce((n, [, b]) => n + b, 0)
  if (!arrivals.length) return { bytes, bps: 0 }
  const t0 = arrivals[0]![0]
  const head = arrivals.filter(([t]) => t - t0 < 50).reduce((n, [, b]) => n + b, 0)
  const span = (arrivals.at(-1)![0] - t0) / 1000
  return { bytes, bps: span > 0.05 ? ((bytes - head) * 8) / span : Infinity }
}

/** A TCP sink in this (untargeted) process that measures one connection's rate. */
function sink(): Promise<Sink> {
  return new Promise((resolve) => {
    let finish!: (r: Flow) => void
    const done = new Promise<Flow>((r) => (finish = r))
    const srv = net.createServer((s) => {
      const arrivals: [number, number][] = []
      s.on('data', (d) => arrivals.push([performance.now(), d.length]))
      s.on('end', () => {
        s.end()
        srv.close()
        finish(steadyRate(arrivals))
      })
    })
    srv.listen(0, '127.0.0.1', () => resolve({ port: (srv.address() as net.AddressInfo).port, done }))
  })
}

/** Sends `bytes` from this (untargeted) process to a port. */
function sendFromHere(port: number, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.end(Buffer.alloc(bytes, 'y')))
    c.on('error', reject)
    c.on('close', () => resolve())
  })
}

/** A targeted child that receives (TCP: one connection; UDP: `bytes` of datagrams); resolves once it listens. */
async function childReceiver(mode: 'recv' | 'urecv', arg: number): Promise<{ port: number; result: Promise<Flow> }> {
  const p = spawn('python3', [FLOW, mode, String(arg)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out = watchProcess(p, `flow.py ${mode}`)
  const port = Number(await out.next())
  const result = out.exited.then(() => JSON.parse(out.lines.at(-1)!) as Flow)
  return { port, result }
}

/** Datagrams of 1000 bytes from this (untargeted) process, paced at `bps` for `seconds`. */
async function datagramsFromHere(port: number, bps: number, seconds: number): Promise<number> {
  const tx = dgram.createSocket('udp4')
  const payload = Buffer.alloc(1000, 'z')
  const t0 = performance.now()
  let sent = 0
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor((((performance.now() - t0) / 1000) * bps) / 8 / payload.length)
    for (; sent < due; sent++) await new Promise((r) => tx.send(payload, port, '127.0.0.1', r))
    await new Promise((r) => setTimeout(r, 2))
  }
  tx.close()
  return sent * payload.length
}

type Ctx = Parameters<typeof skipUnless>[0]
/** TC programs (tcx, or cls_bpf where the kernel predates tcx), socket marking, and the qdiscs. */
function needs(ctx: Ctx, ...features: Parameters<typeof skipUnless>[1][]): void {
  skipUnlessAny(ctx, 'tcx', 'cls-bpf')
  skipUnless(ctx, 'cgroup-sockaddr', ...features)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ping = (count: number) => runJson<number[]>('python3', [FLOW, 'ping', '127.0.0.1', String(echoPort), String(count)])

describe('network shaping: bandwidth', SLOW, () => {
  const RATE = 1e6 // 1 mbit/s = 125 000 bytes/s
  const BYTES = 400_000 // ~3.2 s at the limit

  it('a 1 mbit egress limit caps the target (at most +20 %), and an untargeted flow is not held to it', async (ctx) => {
    needs(ctx, 'htb')
    await warmUp()
    const before = tcView()
    await withFailureConfig({ target: children, network: [{ name: 'slow-up', action: 'bandwidth', rate: '1mbit', direction: 'egress', protocol: 'tcp' }] }, async (f) => {
      const s = await sink()
      await runJson('python3', [FLOW, 'send', '127.0.0.1', String(s.port), String(BYTES)])
      const { bytes, bps } = await s.done
      expect(bytes).toBe(BYTES)
      // As the receiver measured it: never above the limit (+20 % for the bucket's burst); a
      // loaded machine (TCG, 2 busy cores) may deliver less, so the floor is half the rate.
      expect(bps).toBeGreaterThan(RATE * 0.5)
      expect(bps).toBeLessThan(RATE * 1.2)
      expect(f.fired('slow-up')).toBeGreaterThan(0)
      // An untargeted flow on the same interface, at the same time, is not held to the limit.
      const other = await sink()
      await sendFromHere(other.port, 4_000_000)
      const fast = await other.done
      expect(fast.bytes).toBe(4_000_000)
      expect(fast.bps).toBeGreaterThan(Math.max(RATE * 2, bps * 2))
    })
    await expectTcAsBefore(before)
  })

  it('a 1 mbit ingress limit (through an IFB device) caps what the target receives', async (ctx) => {
    needs(ctx, 'htb', 'ifb-redirect')
    await warmUp()
    const before = tcView()
    await withFailureConfig({ target: children, network: [{ name: 'slow-down', action: 'bandwidth', rate: '1mbit', direction: 'ingress', protocol: 'udp' }] }, async (f) => {
      const rx = await childReceiver('urecv', 1e9)
      expect(execSync('ip -o link show', { encoding: 'utf8' })).toMatch(/flifb[0-9a-f]{8}/)
      // 2 mbit offered for 3 s: what gets through is the limit, the rest is dropped at the queue.
      const sent = await datagramsFromHere(rx.port, 2 * RATE, 3)
      const { bytes, bps } = await rx.result
      expect(bytes).toBeLessThan(sent * 0.75)
      expect(bps).toBeGreaterThan(RATE * 0.8)
      expect(bps).toBeLessThan(RATE * 1.2)
      expect(f.fired('slow-down')).toBe(sent / 1000)
    })
    await expectTcAsBefore(before)
  })

  it('a 1 mbit ingress limit slows a TCP download of the target too', async (ctx) => {
    needs(ctx, 'htb', 'ifb-redirect')
    await withFailureConfig({ target: children, network: [{ name: 'slow-down', action: 'bandwidth', rate: '1mbit', direction: 'ingress', protocol: 'tcp' }] }, async (f) => {
      const rx = await childReceiver('recv', 30)
      await sendFromHere(rx.port, BYTES)
      const { bytes, bps } = await rx.result
      expect(bytes).toBe(BYTES)
      expect(bps).toBeGreaterThan(RATE * 0.5) // see the egress case
      expect(bps).toBeLessThan(RATE * 1.2)
      expect(f.fired('slow-down')).toBeGreaterThan(0)
    })
  })
})

describe('network shaping: delay (netem)', SLOW, () => {
  it('a 100 ms egress delay adds at least 100 ms (less than 200) to the target\'s round trips, and nothing to others', async (ctx) => {
    needs(ctx, 'htb', 'netem')
    const base = median(await ping(10))
    await withFailureConfig({ target: children, network: [{ name: 'slow', action: 'delay', delay: '100ms', direction: 'egress', protocol: 'udp', port: echoPort }] }, async (f) => {
      const delayed = await ping(10)
      // Every delayed round trip took at least the delay (netem never delivers early); a loaded
      // machine only adds, so the median may not reach twice it (a delay applied twice would).
      expect(Math.min(...delayed)).toBeGreaterThanOrEqual(100 - 1)
      expect(median(delayed) - base).toBeLessThan(200)
      expect(f.fired('slow')).toBeGreaterThanOrEqual(10)
      // This process is not a target: its own round trips are faster than any delayed one.
      const c = dgram.createSocket('udp4')
      const own: number[] = []
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now()
        await new Promise<void>((r) => { c.once('message', () => r()); c.send('x', echoPort, '127.0.0.1') })
        own.push(performance.now() - t0)
      }
      expect(median(own)).toBeLessThan(Math.min(...delayed))
      c.close()
    })
  })

  it('an ingress delay (through an IFB device) delays what the target receives', async (ctx) => {
    needs(ctx, 'htb', 'netem', 'ifb-redirect')
    const base = median(await ping(10))
    await warmUp()
    const before = tcView()
    await withFailureConfig({ target: children, network: [{ name: 'slow-in', action: 'delay', delay: '100ms', direction: 'ingress', protocol: 'udp' }] }, async (f) => {
      const delayed = await ping(10)
      expect(Math.min(...delayed)).toBeGreaterThanOrEqual(100 - 1) // see the egress case
      expect(median(delayed) - base).toBeLessThan(200)
      expect(f.fired('slow-in')).toBeGreaterThanOrEqual(10)
    })
    await expectTcAsBefore(before)
  })

  it('jitter spreads the round trips around the delay', async (ctx) => {
    needs(ctx, 'htb', 'netem')
    const base = median(await ping(10))
    const rtts = await withFailureConfig(
      { target: children, network: [{ name: 'shaky', action: 'delay', delay: '60ms', jitter: '30ms', protocol: 'udp', port: echoPort }] },
      () => ping(30),
    )
    // netem draws each delay in 60 +- 30 ms: none shorter than 30 (a loaded machine only adds),
    // the median within the spread plus the unshaped round trip's own median, and spread out
    expect(Math.min(...rtts)).toBeGreaterThanOrEqual(60 - 30 - 1)
    expect(median(rtts) - base).toBeLessThan(60 + 30 + 60)
    expect(Math.max(...rtts) - Math.min(...rtts)).toBeGreaterThan(15)
  })

  it('without netem, a delay rule is refused with the reason and nothing is attached', async (ctx) => {
    if (!requires('netem')) return skipBecause(ctx, 'this kernel has netem: the refusal runs on the kernels without it')
    await warmUp()
    const before = tcView()
    const err = await withFailureConfig({ target: children, network: [{ name: 'slow', action: 'delay', delay: '100ms' }] }, () => 0).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FaultlineUnsupportedError)
    expect(String(err)).toMatch(/network\[0\] \(slow\): delay needs the netem qdisc for delay and jitter: not supported by this kernel \(needs CONFIG_NET_SCH_NETEM/)
    await expectTcAsBefore(before)
  })
})

describe('network shaping: refused where the kernel cannot', () => {
  it('without bpf_redirect into IFB (Linux < 6.4), an ingress rule is refused naming it; egress is not', async (ctx) => {
    if (!requires('ifb-redirect')) return skipBecause(ctx, 'this kernel has ifb-redirect: the refusal runs on kernels before 6.4')
    needs(ctx, 'htb')
    await warmUp()
    const before = tcView()
    const err = await withFailureConfig({ target: children, network: [{ name: 'slow-in', action: 'bandwidth', rate: '1mbit', direction: 'ingress' }] }, () => 0).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FaultlineUnsupportedError)
    expect(String(err)).toMatch(/network\[0\] \(slow-in\): bandwidth needs an IFB device fed by bpf_redirect to shape ingress traffic: .*works from Linux 6\.4.*; direction egress works here/)
    await expectTcAsBefore(before)
  })
})

describe('network shaping: which interfaces', () => {
  it('lo for loopback or no hosts, the route\'s interface for hosts, every interface only when asked; a host without a route is refused', { timeout: 300_000 }, async (ctx) => {
    needs(ctx, 'htb')
    // In a namespace of its own with a veth pair, so the machine's own interfaces are never touched.
    const ns = `fl-ifsel-${process.pid}`
    execSync(`ip netns add ${ns}`)
    try {
      execSync(`ip netns exec ${ns} sh -c 'ip link set lo up && ip link add va type veth peer name vb && ip addr add 10.78.0.1/24 dev va && ip link set va up && ip link set vb up'`)
      const cases: [object, string[] | RegExp][] = [
        [{ port: 5432 }, ['lo']],
        [{ hosts: ['127.0.0.1'] }, ['lo']],
        [{ hosts: ['10.78.0.2'] }, ['va']],
        [{ hosts: ['10.78.0.1'] }, ['lo']], // the machine's own address: over lo
        [{ hosts: ['10.78.0.0/16'] }, ['lo', 'va']],
        [{ hosts: ['::1', '10.78.0.2'] }, ['lo', 'va']],
        [{ interface: ['vb'] }, ['vb']],
        [{ interface: '*' }, ['lo', 'va', 'vb']],
        [{ hosts: ['192.0.2.1'] }, /network\[0\]\.hosts: 192\.0\.2\.1: no route \(.*unreachable.*\), so no interface to act on; name one with interface:/],
        [{ interface: 'nosuch0' }, /network\[0\]\.interface: nosuch0: no such interface/],
      ]
      // The interfaces that get faultline's htb while each rule is armed, from one process.
      const got = await runJson<(string[] | string)[]>('ip', ['netns', 'exec', ns, 'sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$@"', process.execPath, path.join(FIXTURES, 'shaped-interfaces.mjs'), JSON.stringify(cases.map(([rule]) => rule))])
      cases.forEach(([rule, want], i) => {
        if (want instanceof RegExp) expect(got[i], JSON.stringify(rule)).toMatch(want)
        else expect(got[i], JSON.stringify(rule)).toEqual(want)
      })
      expect(execSync(`ip netns exec ${ns} tc qdisc show`, { encoding: 'utf8' })).not.toMatch(/fa17/)
    } finally {
      execSync(`ip netns del ${ns}`)
    }
  })
})

describe('network shaping: nothing left behind', SLOW, () => {
  it('qdiscs and the IFB device of a SIGKILLed process are removed by the next arming', async (ctx) => {
    needs(ctx, 'htb', 'ifb-redirect')
    await warmUp()
    const before = tcView()
    const cfg = JSON.stringify({ target: children, network: [{ name: 'slow', action: 'bandwidth', rate: '1mbit', direction: 'both' }] })
    const child = spawn(process.execPath, [path.join(FIXTURES, 'armed-sleeper.mjs'), cfg], { stdio: ['pipe', 'pipe', 'pipe'] })
    await watchProcess(child, 'the armed sleeper').line((l) => l.includes('armed'))
    expect(execSync('tc qdisc show', { encoding: 'utf8' })).toMatch(/htb fa17:/)
    child.kill('SIGKILL')
    await new Promise((r) => child.on('close', r))
    // Still there: qdiscs and devices are not bpf_links...
    expect(execSync('tc qdisc show', { encoding: 'utf8' })).toMatch(/htb fa17:/)
    // ...until any faultline process arms a network rule again.
    await withFailureConfig({ target: children, network: [{ name: 'noop', action: 'drop', port: 9 }] }, () => 0)
    expect(tcView().qdiscs).toEqual(before.qdiscs)
    expect(tcView().links).toEqual(before.links)
  })

  it('a faultline-tagged qdisc nobody claims (its record lost) is replaced, and removed at disarm', async (ctx) => {
    needs(ctx, 'htb')
    await warmUp()
    const before = tcView()
    execSync('tc qdisc add dev lo root handle fa17: htb default 0')
    await withFailureConfig({ target: children, network: [{ name: 'slow', action: 'bandwidth', rate: '1mbit', interface: 'lo' }] }, (f) => {
      expect(f.stats().slow).toMatchObject({ syscall: 'net:bandwidth' })
      expect(execSync('tc class show dev lo', { encoding: 'utf8' })).toMatch(/class htb fa17:10/)
    })
    expect(tcView().qdiscs).toEqual(before.qdiscs)
  })

  it('a root qdisc faultline did not create is never replaced: refused naming the interface', async (ctx) => {
    needs(ctx, 'htb')
    const ns = `fl-shape-${process.pid}`
    execSync(`ip netns add ${ns}`)
    try {
      // In a namespace of its own, so the test's qdisc disturbs nothing else on the machine.
      const cfg = JSON.stringify({ network: [{ name: 'slow', action: 'bandwidth', rate: '1mbit', interface: 'lo' }] })
      const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', `tc qdisc add dev lo root handle 1: htb && exec "$0" "$1" "$2"`, process.execPath, path.join(FIXTURES, 'arm-once.mjs'), cfg], { encoding: 'utf8' })
      expect(r.status).not.toBe(0)
      expect(r.stdout + r.stderr).toMatch(/network shaping on lo: it has a root qdisc of its own \(handle 1:\), which faultline will not replace/)
    } finally {
      execSync(`ip netns del ${ns}`)
    }
  })

  it('two processes arming shaping on one interface at the same instant: one shapes, the other gets FaultlineBusyError, never a tc error', { timeout: 300_000 }, async (ctx) => {
    needs(ctx, 'htb')
    const ns = `fl-race-${process.pid}`
    execSync(`ip netns add ${ns} && ip netns exec ${ns} ip link set lo up`)
    const dir = tempDir('fl-race-')
    try {
      const qdiscs = () => execSync(`ip netns exec ${ns} tc qdisc show`, { encoding: 'utf8' })
      const before = qdiscs()
      const cfg = JSON.stringify({ target: children, network: [{ name: 'slow', action: 'bandwidth', rate: '1mbit', interface: 'lo' }] })
      for (let round = 0; round < 2; round++) {
        const go = path.join(dir, `go-${round}`)
        const procs = [0, 1].map(() => {
          const p = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$@"', process.execPath, path.join(FIXTURES, 'arm-when.mjs'), cfg, go], { stdio: ['pipe', 'pipe', 'pipe'] })
          let out = ''
          let err = ''
          p.stderr.on('data', (d) => (err += d))
          p.stdout.on('data', (d) => (out += d))
          const line = (n: number) => new Promise<string>((resolve, reject) => {
            const check = () => { const l = out.split('\n'); if (l.length > n) resolve(l[n - 1]!) }
            p.stdout.on('data', check)
            p.on('close', () => reject(new Error(`arm-when exited: ${out}${err}`)))
          })
          return { p, waiting: line(1), result: line(2).then((l) => JSON.parse(l) as { armed?: true; error?: string; message?: string }), stderr: () => err }
        })
        await Promise.all(procs.map((x) => x.waiting))
        fs.writeFileSync(go, '')
        const results = await Promise.all(procs.map((x) => x.result))
        for (const x of procs) x.p.stdin.end()
        await Promise.all(procs.map((x) => new Promise((r) => x.p.on('close', r))))
        expect(results.filter((r) => r.armed).length).toBe(1)
        const refused = results.find((r) => !r.armed)!
        expect(refused.error).toBe('FaultlineBusyError')
        expect(refused.message).toMatch(/network shaping on lo: faultline process \d+ is shaping it/)
        expect(procs.map((x) => x.stderr()).join('')).not.toMatch(/RTNETLINK|tc failed/)
        expect(qdiscs()).toBe(before)
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
      execSync(`ip netns del ${ns}`)
    }
  })
})
