/**
 * faultline inside real OCI containers (runc; own pid, mount, ipc and uts namespaces, the host's
 * network), as CI runs tests: GitHub Actions `container:` jobs, GitLab's Docker executor,
 * Kubernetes runners. The program inside (test/fixtures/container-run.mjs) arms with the built
 * package and reports what its processes saw; the test outside checks it, and checks processes
 * outside the container. Each scenario runs with only the capabilities `faultline doctor` names
 * (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN) and with every capability (--privileged). Syscall
 * faults in a container, which need a syscall mechanism this host lacks, are in
 * containers-syscall.test.ts (the VM matrix runs it; this file runs on the host).
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import dgram from 'node:dgram'
import net from 'node:net'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { startContainer, deleteContainers, finished, CONTAINER_RUN, DOCTOR_CAPS, PRIVILEGES, REPO, type Container, type ContainerOptions, type Done } from '../support/container.js'
import { FEATURES, probeFeature, type Feature } from '../../packages/core/src/kernel/index.js'
import { FEATURE_CAPABILITIES } from '../../packages/core/src/kernel/features.js'
import { startServer, tryConnect, FIXTURES, type Server } from '../support/net.js'
import { skipUnless, skipUnlessRunc } from '../support/requires.js'
import { kernelLock } from '../support/kernel-lock.js'

const RUN = CONTAINER_RUN
/** Starting containers under TCG on a loaded machine takes tens of seconds. */
const SLOW = 300_000
const BYSTANDER = path.join(FIXTURES, 'bystander.cjs')

type Line = Record<string, unknown>

/** A container whose pid 1 is a shell (like `sh -c "npm test"`) running the program; with a bystander, a sibling of it. */
function launch(plan: object, opts: Pick<ContainerOptions, 'capabilities' | 'cgroupns'>, bystander = false): Container {
  const run = `node ${RUN} '${JSON.stringify(plan)}'`
  return startContainer({ ...opts, args: ['sh', '-c', bystander ? `node ${BYSTANDER} /tmp/by & ${run}` : run] })
}

/** Waits for the program's {"sync": label}; fails at once if it reported an error instead (except in rounds expected to fail). */
async function synced(c: Container, label: string, expectedErrorRounds: number[] = []): Promise<void> {
  const l = await c.line<Done & Line>((x) => x.sync === label || (x.done === true && !!x.error && !expectedErrorRounds.includes(x.round ?? 0)))
  if (l.error) throw new Error(`in container: ${l.error.name}: ${l.error.message}`)
}

let server: Server
beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server.close()
})
afterEach(deleteContainers)

const refuse = (name: string, port: number, errno = 'ECONNREFUSED') => ({ syscalls: [{ name, syscall: 'connect', errno, match: { port } }] })

describe.each(PRIVILEGES)('socket faults in a container, %s', (_label, privileges) => {
  it('fails connect for the test process and its children; a bystander in the same container and processes outside are untouched', async (ctx) => {
    skipUnlessRunc(ctx)
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const c = launch(
      {
        config: refuse('db-down', server.port),
        steps: [{ connect: server.port }, { child: server.port }, { grandchild: server.port }, { bystander: server.port }, { sync: 'outside' }, { targets: true }],
        after: [{ connect: server.port }, { child: server.port }],
      },
      privileges,
      true,
    )
    await synced(c, 'outside')
    // armed in the container: the host's own processes connect as usual
    expect(await tryConnect(server.port)).toBe('ok')
    c.send('go')
    const done = await finished(c)
    expect(done.results!.slice(0, 4)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED', 'ok'])
    expect(done.fired).toEqual({ 'db-down': 3 })
    // targets() speaks the caller's namespace: the program's own pid as it saw it
    const ready = await c.line<{ pid: number }>((l) => l.ready === true)
    expect(done.results![5]).toContain(ready.pid)
    expect(done.after).toEqual(['ok', 'ok'])
    expect((await c.exited).code).toBe(0)
  }, SLOW)

  it('two containers armed at once each see only their own faults', async (ctx) => {
    skipUnlessRunc(ctx)
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    // Both fail the same port, with different errnos: a fault taken from the other container shows.
    const plan = (errno: string) => ({
      config: refuse('mine', server.port, errno),
      syncBeforeArm: true,
      steps: [{ sync: 'armed' }, { connect: server.port }, { child: server.port }, { sync: 'checked' }],
    })
    const a = launch(plan('ECONNREFUSED'), privileges)
    const b = launch(plan('ENETUNREACH'), privileges)
    await Promise.all([synced(a, 'arm-0'), synced(b, 'arm-0')])
    a.send('arm')
    b.send('arm')
    await Promise.all([synced(a, 'armed'), synced(b, 'armed')])
    expect(await tryConnect(server.port)).toBe('ok')
    a.send('go')
    b.send('go')
    await Promise.all([synced(a, 'checked'), synced(b, 'checked')])
    a.send('done')
    b.send('done')
    const [da, db] = await Promise.all([finished(a), finished(b)])
    expect(da.results!.slice(1, 3)).toEqual(['ECONNREFUSED', 'ECONNREFUSED'])
    expect(db.results!.slice(1, 3)).toEqual(['ENETUNREACH', 'ENETUNREACH'])
    expect(da.fired).toEqual({ mine: 2 })
    expect(db.fired).toEqual({ mine: 2 })
  }, SLOW)
})

// --- network rules: two containers on the host network, each with drop and shaping rules

/** Counts datagrams per sender tag. */
async function udpCounter(): Promise<{ port: number; count(tag: string): number; close(): void }> {
  const s = dgram.createSocket('udp4')
  const seen = new Map<string, number>()
  s.on('message', (m) => {
    const tag = m.toString().split(':')[0]!
    seen.set(tag, (seen.get(tag) ?? 0) + 1)
  })
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  return { port: s.address().port, count: (t) => seen.get(t) ?? 0, close: () => s.close() }
}

/** A TCP sink that answers "done" once the client has sent everything. */
async function sink(): Promise<Server> {
  const srv = net.createServer((s) => {
    s.on('data', () => {})
    s.on('end', () => s.end('done'))
    s.on('error', () => {})
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) }
}

interface TcView {
  qdiscs: { kind: string; handle: string; root?: boolean }[]
  ingress: unknown[]
  egress: unknown[]
}

function hostTc(dev: string): TcView {
  const j = (args: string[]) => {
    const r = spawnSync('tc', ['-j', ...args], { encoding: 'utf8' })
    return r.stdout.trim() ? JSON.parse(r.stdout) : []
  }
  return { qdiscs: j(['qdisc', 'show', 'dev', dev]), ingress: j(['filter', 'show', 'dev', dev, 'ingress']), egress: j(['filter', 'show', 'dev', dev, 'egress']) }
}

const ifbDevices = () => ((JSON.parse(spawnSync('ip', ['-j', 'link', 'show', 'type', 'ifb'], { encoding: 'utf8' }).stdout || '[]') as { ifname: string }[]).map((d) => d.ifname)).sort()

/** 64 KB at 1 mbit: at least ~0.5 s shaped, milliseconds unshaped. */
const BYTES = 64 * 1024
/**
 * 256 kbit: a shaped 64 KB upload takes 2 s, so the unshaped ones (connect and scheduling only,
 * yet 0.3 s in a VM on a loaded machine) stay far below a third of it.
 */
const RATE_BPS = 256e3

const upDevices = () => (JSON.parse(spawnSync('ip', ['-j', 'link', 'show', 'up'], { encoding: 'utf8' }).stdout || '[]') as { ifname: string }[]).map((d) => d.ifname)

/**
 * Removes what the containers' faultline left on the host's interfaces beyond `before` (a
 * failed test kills armed containers: their qdiscs, filters and IFB devices are not links).
 * Runs under the tc lock; faultline's tags: filter priority 3863, root qdisc fa17:, flifb*.
 */
function removeLeftovers(before: Map<string, TcView>, ifbs: string[]): void {
  for (const dev of upDevices()) {
    const was = before.get(dev)
    const now = hostTc(dev)
    for (const dir of ['ingress', 'egress'] as const) {
      const had = JSON.stringify(was?.[dir] ?? [])
      if (!had.includes('"pref":3863') && JSON.stringify(now[dir]).includes('"pref":3863')) spawnSync('tc', ['filter', 'del', 'dev', dev, dir, 'pref', '3863'])
    }
    const hadRoot = was?.qdiscs.some((q) => q.root && q.handle === 'fa17:')
    if (!hadRoot && now.qdiscs.some((q) => q.root && q.handle === 'fa17:')) spawnSync('tc', ['qdisc', 'del', 'dev', dev, 'root', 'handle', 'fa17:'])
    const after = hostTc(dev)
    if (!was?.qdiscs.some((q) => q.kind === 'clsact') && after.qdiscs.some((q) => q.kind === 'clsact') && !after.ingress.length && !after.egress.length) {
      spawnSync('tc', ['qdisc', 'del', 'dev', dev, 'clsact'])
    }
  }
  for (const d of ifbDevices()) if (d.startsWith('flifb') && !ifbs.includes(d)) spawnSync('ip', ['link', 'del', d])
}

/** Whether everything `before` listed (qdiscs, tc filters) is still in `now`. */
function keeps(now: TcView, before: TcView): boolean {
  // packet counters move with traffic: compare what the objects are, not what they counted
  const id = (x: unknown) => JSON.stringify(x, (k, v) => (k === 'direct_packets_stat' || k === 'refcnt' ? undefined : v))
  const has = (list: unknown[], x: unknown) => list.some((y) => id(y) === id(x))
  return (['qdiscs', 'ingress', 'egress'] as const).every((k) => (before[k] as unknown[]).every((x) => has(now[k] as unknown[], x)))
}

describe.each(PRIVILEGES)('network rules in two containers on the host network, %s', (_label, privileges) => {
  const lock = kernelLock('tc')
  beforeAll(lock.acquire, 600_000)
  afterAll(lock.release)

  // it.for, not it.each: only it.for hands the test its context (skipUnless needs it)
  it.for(['tcx', 'cls-bpf'] as const)(
    'drop and bandwidth rules (%s): each container sees only its own, and neither sweeps the other\'s tc state',
    async (mechanism, ctx) => {
      skipUnlessRunc(ctx)
      skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf', mechanism, 'htb')
      const udp = await udpCounter()
      const sinkA = await sink()
      const sinkB = await sink()
      const baseline = { tc: hostTc('lo'), ifb: ifbDevices() }
      const everyDevice = new Map(upDevices().map((d) => [d, hostTc(d)]))
      const drop = { name: 'drop-udp', action: 'drop', direction: 'egress', protocol: 'udp', port: udp.port, mechanism }
      // both directions where the kernel can shape ingress: A then has an IFB device too
      const both = probeFeature('ifb-redirect').available
      const thin = (port: number) => ({ name: 'thin', action: 'bandwidth', rate: `${RATE_BPS / 1000}kbit`, direction: both ? 'both' : 'egress', protocol: 'tcp', port, interface: 'lo', mechanism })
      try {
        // A drops and shapes on lo, and stays armed while B arms three times: drop only (both
        // armed at once), drop + shaping on lo (refused: one process at a time shapes an
        // interface), and once A is done, drop + shaping again. No arming may sweep A's state.
        const a = launch(
          {
            config: { network: [drop, thin(sinkA.port)] },
            steps: [{ sync: 'armed' }, { udp: udp.port, count: 20, tag: 'a' }, { transfer: sinkA.port, bytes: BYTES }, { transfer: sinkB.port, bytes: BYTES }, { sync: 'checked' }],
          },
          privileges,
        )
        await synced(a, 'armed')
        const armedA = hostTc('lo')
        const ifbA = ifbDevices()
        expect(armedA.qdiscs.find((q) => q.root)?.handle).toBe('fa17:')
        expect(ifbA.length).toBe(baseline.ifb.length + (both ? 1 : 0))
        const b = launch(
          {
            rounds: [
              { config: { network: [drop] }, steps: [{ sync: 'armed' }, { udp: udp.port, count: 20, tag: 'b' }, { transfer: sinkA.port, bytes: BYTES }, { sync: 'checked' }] },
              { config: { network: [drop, thin(sinkB.port)] } },
              { syncBeforeArm: true, config: { network: [drop, thin(sinkB.port)] }, steps: [{ udp: udp.port, count: 20, tag: 'b3' }, { transfer: sinkB.port, bytes: BYTES }] },
            ],
          },
          privileges,
        )
        await synced(b, 'armed')
        expect(keeps(hostTc('lo'), armedA), JSON.stringify({ before: armedA, now: hostTc('lo') })).toBe(true) // B's arming left A's qdiscs and filters
        expect(ifbDevices()).toEqual(ifbA)
        a.send('go')
        b.send('go')
        await Promise.all([synced(a, 'checked'), synced(b, 'checked')])
        const s = dgram.createSocket('udp4')
        await new Promise<void>((r) => s.send('host:0', udp.port, '127.0.0.1', () => (s.close(), r())))
        b.send('done')
        const db1 = await finished(b, 0)
        const db2 = await b.line<Done & Line>((l) => l.done === true && l.round === 1)
        // still armed in A: B's refused arming (and its undoing) left A's state alone
        expect(db2.error?.name, JSON.stringify(db2.error ?? db2)).toBe('FaultlineBusyError')
        expect(db2.error?.message).toMatch(/\blo\b/)
        expect(keeps(hostTc('lo'), armedA), JSON.stringify({ before: armedA, now: hostTc('lo') })).toBe(true)
        expect(ifbDevices()).toEqual(ifbA)
        a.send('done')
        const da = await finished(a, 0)
        await synced(b, 'arm-2', [1]) // round 1's refusal was checked above
        b.send('arm')
        const db3 = await finished(b, 2)
        expect((await a.exited).code).toBe(0)
        expect((await b.exited).code).toBe(0)

        // each container's datagrams were dropped by its own rule; the host's got through
        expect(udp.count('a')).toBe(0)
        expect(udp.count('b')).toBe(0)
        expect(udp.count('b3')).toBe(0)
        expect(udp.count('host')).toBe(1)
        expect(da.fired!['drop-udp']).toBe(20)
        expect(db1.fired!['drop-udp']).toBe(20)
        expect(db3.fired!['drop-udp']).toBe(20)
        // An upload to a shaped port took at least what 1 mbit allows (less a burst); A's upload
        // to another port and B's upload to A's shaped port were not shaped by A's class.
        const minMs = ((BYTES * 8) / RATE_BPS) * 1000 * 0.6
        const [shapedA, unshapedA] = da.results!.slice(2, 4) as number[]
        const unshapedB = db1.results![2] as number
        const shapedB = db3.results![1] as number
        expect(shapedA).toBeGreaterThan(minMs)
        expect(shapedB).toBeGreaterThan(minMs)
        expect(unshapedA).toBeLessThan(shapedA / 3)
        expect(unshapedB).toBeLessThan(shapedA / 3)
        // both disarmed: lo and the IFB devices are as they were
        expect(hostTc('lo')).toEqual(baseline.tc)
        expect(ifbDevices()).toEqual(baseline.ifb)
      } finally {
        deleteContainers()
        removeLeftovers(everyDevice, baseline.ifb)
        udp.close()
        await sinkA.close()
        await sinkB.close()
      }
    },
    SLOW,
  )
})

// --- doctor knows it runs in a container, and what the container lacks

interface DoctorJson {
  container: { detected: boolean; pidNamespace: boolean; seccomp: string }
  missingCapabilities: string[]
  features: { feature: string; available: boolean; reason: string; missingCapabilities?: string[] }[]
  usable: boolean
  machineReady: boolean
  problems: string[]
  recipes?: { docker: string; podman: string; githubActions: string; kubernetes: string }
}

async function doctorIn(opts: Pick<ContainerOptions, 'capabilities' | 'seccomp' | 'user'>): Promise<{ code: number | null; report: DoctorJson }> {
  const c = startContainer({ ...opts, args: ['node', path.join(REPO, 'packages/core/dist/cli/main.js'), 'doctor', '--json'] })
  c.process.stdin!.end()
  const { code, stdout, stderr } = await c.exited
  try {
    return { code, report: JSON.parse(stdout.join('\n')) as DoctorJson }
  } catch {
    throw new Error(`doctor in a container exited ${code}: ${stdout.join('\n')}\n${stderr}`)
  }
}

describe('faultline doctor in a container', () => {
  it('with Docker\'s default capabilities: detects the container, probes nothing it may not, names the flags to add, exits 0', async (ctx) => {
    skipUnlessRunc(ctx)
    const { code, report } = await doctorIn({})
    expect(report.container).toMatchObject({ detected: true, pidNamespace: true, seccomp: 'disabled' })
    expect(report.missingCapabilities).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'])
    for (const f of report.features) {
      expect(f.reason).not.toMatch(/not supported by this kernel/)
      expect(f.missingCapabilities?.length, f.feature).toBeGreaterThan(0)
    }
    expect(report.recipes?.docker).toBe('docker run --cap-add BPF --cap-add PERFMON --cap-add NET_ADMIN ...')
    expect(report.recipes?.githubActions).toContain('options: --cap-add BPF --cap-add PERFMON --cap-add NET_ADMIN')
    expect(report.recipes?.kubernetes).toContain('add: [BPF, PERFMON, NET_ADMIN]')
    expect(report.usable).toBe(false)
    expect(code).toBe(0)
  }, SLOW)

  it.for([
    ['the capabilities doctor names, as root', { capabilities: DOCTOR_CAPS }],
    ['the capabilities doctor names, as nobody', { capabilities: DOCTOR_CAPS, user: { uid: 65534, gid: 65534 } }],
    ['privileged', { capabilities: 'privileged' as const }],
  ] as const)('with %s: every feature as the host\'s root sees it, usable', async ([_label, opts], ctx) => {
    skipUnlessRunc(ctx)
    const { code, report } = await doctorIn(opts)
    expect(report.container.detected).toBe(true)
    expect(report.missingCapabilities).toEqual([])
    // A feature that needs a capability beyond the container's (probe-write-user: CAP_SYS_ADMIN,
    // for corrupted reads) is reported as that capability missing, never as the kernel lacking it.
    const held = opts.capabilities === 'privileged' ? undefined : (opts.capabilities as readonly string[])
    const beyond = (f: string) => !!held && FEATURE_CAPABILITIES[f as Feature].some((c) => !held.includes(c))
    const host = Object.fromEntries(FEATURES.filter((f) => !beyond(f)).map((f) => [f, probeFeature(f).available]))
    expect(Object.fromEntries(report.features.filter((f) => !beyond(f.feature)).map((f) => [f.feature, f.available]))).toEqual(host)
    for (const f of report.features.filter((x) => beyond(x.feature))) {
      expect(f.reason, f.feature).not.toMatch(/not supported by this kernel/)
      if (probeFeature(f.feature as Feature).available) expect(f.missingCapabilities?.length, f.feature).toBeGreaterThan(0)
    }
    expect(report.usable).toBe(true)
    expect(report.recipes).toBeUndefined()
    expect(code).toBe(0)
  }, SLOW)

  it('with a seccomp profile that refuses bpf(): says so and names seccomp=unconfined, exits 1', async (ctx) => {
    skipUnlessRunc(ctx)
    skipUnless(ctx, 'tp_btf')
    const { code, report } = await doctorIn({ capabilities: DOCTOR_CAPS, seccomp: 'block-bpf' })
    expect(report.container.seccomp).toBe('filter')
    expect(report.features.find((f) => f.feature === 'tp_btf')!.reason).toMatch(/^EPERM.*seccomp filter/)
    expect(report.problems.join('\n')).toMatch(/seccomp/)
    expect(report.recipes?.docker).toContain('--security-opt seccomp=unconfined')
    expect(report.recipes?.kubernetes).toContain('seccompProfile: { type: Unconfined }')
    expect(code).toBe(1)
  }, SLOW)
})
