/**
 * Real OCI containers for tests, run with runc (the runtime under Docker, containerd and
 * Kubernetes). Nothing is pulled: the image is the host's own files. A bundle's rootfs binds the
 * host's /usr, /etc and /lib* (and /bin, /sbin where they are directories) and this checkout
 * read-only, at the same paths, with a writable tmpfs /tmp and /run. The container has its own
 * pid, mount, ipc and uts namespaces, the host's network unless `network: 'own'`, and runc's
 * choice of cgroup namespace (private on cgroup v2 hosts, as Docker's) unless `cgroupns` says.
 *
 * `process.rlimits` is removed from `runc spec`'s output: root on our machines lacks
 * CAP_SYS_RESOURCE, so raising RLIMIT_NOFILE above the hard limit is refused (podman and crun
 * fail here for that reason and for the hybrid cgroup mount).
 *
 *   const c = startContainer({ args: ['node', 'probe.mjs'], capabilities: DOCTOR_CAPS })
 *   await c.line((l) => l.ready)    // parsed JSON lines from its stdout
 *   c.send('go'); const { code } = await c.exited
 *   afterEach(deleteContainers)      // runc delete -f, also when a test fails
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { watchProcess } from './watch.js'

export const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '')

/** All capabilities by number (linux/capability.h), for the privileged set. */
const CAP_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
]

/** Docker's default capability set (what `docker run` gives without --cap-add). */
export const DOCKER_DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
]

/** What `faultline doctor` names: the cgroup, tracepoint and tc path needs these and nothing else. */
export const DOCTOR_CAPS = ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN']

/** The capabilities this (host) process holds: a container cannot get more. */
export function hostCapabilities(): string[] {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
  const bnd = BigInt(`0x${m?.[1] ?? '0'}`)
  return CAP_NAMES.filter((_, i) => (bnd & (1n << BigInt(i))) !== 0n)
}

export interface ContainerOptions {
  args: string[]
  env?: Record<string, string>
  /** Working directory inside; default the checkout. */
  cwd?: string
  /** 'host' (default): the host's network namespace, like `--network host`. */
  network?: 'host' | 'own'
  /** A private cgroup namespace (the cgroup2 mount shows the container's own cgroup as its root); default runc's choice. */
  cgroupns?: boolean
  /** 'privileged': every capability the host has; or a list of names. Default: Docker's default set. */
  capabilities?: 'privileged' | readonly string[]
  /** 'block-bpf': bpf() and perf_event_open fail with EPERM, as in Docker's profile before CAP_BPF was honoured. */
  seccomp?: 'none' | 'block-bpf'
  user?: { uid: number; gid: number }
  /** Extra binds, e.g. a writable directory shared with the test. */
  binds?: { source: string; destination: string; readonly?: boolean }[]
  /** false: no cgroup2 mount on a hybrid host (what runc alone gives there). */
  cgroup2?: boolean
  /** Mount bpffs at /sys/fs/bpf (docker --privileged does not; some setups bind it). */
  bpffs?: boolean
}

export interface Container {
  id: string
  process: ChildProcess
  /** Every stdout line so far. */
  stdout: string[]
  stderr(): string
  /** Resolves to the first JSON line on stdout that `pred` accepts (already printed or to come). */
  line<T = Record<string, unknown>>(pred: (l: T) => boolean, timeoutMs?: number): Promise<T>
  send(line: string): void
  exited: Promise<{ code: number | null; stdout: string[]; stderr: string }>
}

function hostCgroup2(): string | undefined {
  for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ')
    if (type === 'cgroup2') return mountPoint
  }
  return undefined
}

let runcCache: string | null | undefined

/** Why containers cannot run here (runc missing or failing), or undefined when they can. */
export function runcUnavailable(): string | undefined {
  if (runcCache !== undefined) return runcCache ?? undefined
  runcCache = null
  const v = spawnSync('runc', ['--version'], { encoding: 'utf8' })
  if (v.error || v.status !== 0) runcCache = `runc not found (${v.error?.message ?? v.stderr.trim()}): apt-get install runc (scripts/setup.sh does)`
  else if (process.getuid?.() !== 0) runcCache = 'runc needs root here (no rootless setup)'
  else {
    const r = runContainerSync({ args: ['true'] })
    if (r.status !== 0) runcCache = `runc cannot run a container here: ${r.stderr.trim().split('\n').pop()}`
  }
  return runcCache ?? undefined
}

const live = new Map<string, string>() // id -> bundle dir
let seq = 0

function capabilitySet(opts: ContainerOptions): string[] {
  const host = hostCapabilities()
  if (opts.capabilities === 'privileged') return host
  return [...(opts.capabilities ?? DOCKER_DEFAULT_CAPS)].filter((c) => host.includes(c))
}

function bundle(opts: ContainerOptions): { id: string; dir: string } {
  const id = `fl-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${id}-`))
  const rootfs = path.join(dir, 'rootfs')
  fs.mkdirSync(rootfs)
  const r = spawnSync('runc', ['spec'], { cwd: dir, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`runc spec: ${r.stderr}`)
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))

  const mounts: object[] = spec.mounts
  const bind = (source: string, destination: string, readonly = true) =>
    mounts.push({ destination, type: 'bind', source, options: ['rbind', readonly ? 'ro' : 'rw', 'nosuid', 'nodev'] })
  for (const top of ['usr', 'etc', 'bin', 'sbin', 'lib', 'lib32', 'lib64']) {
    const host = `/${top}`
    if (!fs.existsSync(host)) continue
    const st = fs.lstatSync(host)
    if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(host), path.join(rootfs, top))
    else bind(host, host)
  }
  // The tmpfs mounts come before the binds: mounts are made in order, and a checkout (or a bind
  // the test shares) under /tmp or /run would otherwise be hidden by the tmpfs laid over it.
  for (const tmp of ['/tmp', '/run']) mounts.push({ destination: tmp, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] })
  bind(REPO, REPO)
  for (const b of opts.binds ?? []) bind(b.source, b.destination, b.readonly ?? true)
  // faultline attaches its cgroup programs to the cgroup2 root it finds in /proc/mounts. runc
  // mounts cgroup2 itself on a unified host; on a hybrid one (v1 controllers + cgroup2 at
  // /sys/fs/cgroup/unified) it mounts only the v1 hierarchies, so the v2 one is added here.
  const cg2 = hostCgroup2()
  if (cg2 && cg2 !== '/sys/fs/cgroup' && opts.cgroup2 !== false) mounts.push({ destination: cg2, type: 'cgroup2', source: 'cgroup2', options: ['nosuid', 'nodev', 'noexec', 'ro'] })
  if (opts.bpffs) mounts.push({ destination: '/sys/fs/bpf', type: 'bpf', source: 'bpf', options: ['nosuid', 'nodev', 'noexec'] })

  const caps = capabilitySet(opts)
  delete spec.process.rlimits
  spec.process.terminal = false
  spec.process.args = opts.args
  spec.process.cwd = opts.cwd ?? REPO
  spec.process.user = opts.user ?? { uid: 0, gid: 0 }
  spec.process.env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/tmp', ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`)]
  // Root inside keeps these across exec; a non-root user needs them ambient (like setpriv --ambient-caps).
  spec.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps }
  if (opts.capabilities === 'privileged') {
    // like `docker run --privileged`: no masked or read-only /proc and /sys paths
    spec.linux.maskedPaths = []
    spec.linux.readonlyPaths = []
  }
  const ns = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'network' || opts.network === 'own')
  spec.linux.namespaces = ns.filter((n: { type: string }) => n.type !== 'cgroup')
  // runc's own choice (a private one on cgroup v2 hosts) unless the option says
  const runcCgroupns = ns.some((n: { type: string }) => n.type === 'cgroup')
  if (opts.cgroupns ?? runcCgroupns) spec.linux.namespaces.push({ type: 'cgroup' })
  if (opts.seccomp === 'block-bpf') {
    spec.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
      syscalls: [{ names: ['bpf', 'perf_event_open'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    }
  }
  spec.root = { path: 'rootfs', readonly: true }
  spec.hostname = id.slice(0, 60)
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 1))
  live.set(id, dir)
  return { id, dir }
}

function runContainerSync(opts: ContainerOptions): { status: number | null; stdout: string; stderr: string } {
  const { id, dir } = bundle(opts)
  try {
    const r = spawnSync('runc', ['run', '--bundle', dir, id], { encoding: 'utf8', timeout: 60_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr + (r.error ? r.error.message : '') }
  } finally {
    deleteContainer(id)
  }
}

export function startContainer(opts: ContainerOptions): Container {
  const { id, dir } = bundle(opts)
  const proc = spawn('runc', ['run', '--bundle', dir, id], { stdio: ['pipe', 'pipe', 'pipe'] })
  proc.stdin!.on('error', () => {})
  const w = watchProcess(proc, `container ${id}`)
  const parsed = (l: string): unknown => {
    try {
      return JSON.parse(l)
    } catch {
      return undefined
    }
  }
  return {
    id,
    process: proc,
    stdout: w.lines,
    stderr: w.stderr,
    send: (line) => proc.stdin!.write(`${line}\n`),
    exited: w.exited.then(({ code }) => ({ code, stdout: w.lines, stderr: w.stderr() })),
    async line<T>(pred: (l: T) => boolean, timeoutMs = 240_000): Promise<T> {
      const accepts = (l: string) => {
        const v = parsed(l)
        return !!v && typeof v === 'object' && pred(v as T)
      }
      return parsed(await w.line(accepts, timeoutMs)) as T
    },
  }
}

/** Runs a container to completion; resolves to its exit code and output. */
export async function runContainer(opts: ContainerOptions): Promise<{ code: number | null; stdout: string[]; stderr: string }> {
  const c = startContainer(opts)
  c.process.stdin!.end()
  return c.exited
}

export function deleteContainer(id: string): void {
  spawnSync('runc', ['delete', '-f', id], { stdio: 'ignore' })
  const dir = live.get(id)
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
  live.delete(id)
}

/** Deletes every container this process started (for afterEach/afterAll). */
export function deleteContainers(): void {
  for (const id of [...live.keys()]) deleteContainer(id)
}
process.on('exit', deleteContainers)

/** The program a container runs (test/fixtures/container-run.mjs): it arms with the built package and reports as JSON lines. */
export const CONTAINER_RUN = path.join(REPO, 'test/fixtures/container-run.mjs')

/** Each scenario with only the capabilities `faultline doctor` names, and with every capability. */
export const PRIVILEGES: [string, Pick<ContainerOptions, 'capabilities'>][] = [
  ['with only the capabilities doctor names', { capabilities: DOCTOR_CAPS }],
  ['privileged', { capabilities: 'privileged' }],
]

/** container-run.mjs's last line of a round. */
export interface Done {
  done: true
  results?: unknown[]
  fired?: Record<string, number>
  error?: { name: string; message: string }
  after?: unknown[]
}

/** Waits for the program's end of `round`; fails with its error and the container's stderr if it reported one. */
export async function finished(c: Container, round = 0): Promise<Done> {
  const done = await c.line<Done & Record<string, unknown>>((l) => l.done === true && l.round === round)
  if (done.error) throw new Error(`in container: ${done.error.name}: ${done.error.message}\nstderr: ${c.stderr()}`)
  return done
}
