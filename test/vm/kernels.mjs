// The kernels of the test matrix: where each comes from, how it boots, and which faultline
// features it must offer (a test skipped for a feature its kernel should have fails the matrix,
// test/vm/skips.mjs; expected-features.test.ts checks the kernel has exactly these).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { retrying } from './retry.mjs'
import { ensureForeignArch, userland } from './userland.mjs'

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
export const CACHE = path.join(REPO, '.vm-cache')
const SHARED_KERNELS = path.resolve(REPO, '../shared/kernels')

/** Modules a Debian kernel needs before the 9p root mounts, then those the network tests use. */
const BOOT_MODULES = ['virtio_pci', '9pnet_virtio', '9p']
/**
 * Files the VM kernels leave to the host, to keep CI under an hour (the whole suite overran
 * fei-6.12's 1200 s in a CI run): unit tests and the adapters' runner glue, which need no
 * kernel feature beyond the cgroup hooks every kernel has.
 */
const KERNEL_FREE = [
  'test/unit/**', 'test/integration/node-test.test.ts',
  'test/integration/jest-environment.test.ts', 'test/integration/vitest-plugin.test.ts', 'test/integration/cli-tui.test.ts',
  'test/integration/explore-adapters.test.ts', 'test/integration/cli-config.test.ts',
]
/**
 * Also left to one VM kernel, debian-6.12 (tcx, netem, lsm, runc): the component example (~7 min
 * under TCG) and syscall faults in runc containers (lsm there; the other container scenarios run
 * on the host, HOST_ONLY). arch.test.ts is the arm64 kernel's subset: the
 * x86-64 kernels run the files it samples in full.
 */
const ONE_KERNEL = ['test/integration/component-example.test.ts', 'test/integration/containers-syscall.test.ts']
/**
 * The attacks of test/security check user space's trust in names and files. The one kernel
 * difference that matters is SO_PEERPIDFD (Linux >= 6.5), which the host has and 6.1 lacks:
 * debian-6.1 runs the two files that judge a socket's holder, the host all four, the 6.12
 * builds none (they add nothing the host lacks).
 */
/**
 * Left to the host: explore's rules are a connect via cgroup and an openat delay via send-signal,
 * programs the host runs as every kernel does (socket-faults and syscall-delay run them on each
 * VM kernel), and explore itself never asks the kernel what it has; each case runs the command
 * three or four times (~3 min a kernel under TCG). Its cases on the mechanisms the host lacks
 * (openat through a syscall mechanism, corrupted reads) are explore-mechanisms.test.ts, which
 * every x86-64 VM kernel runs.
 */
const HOST_ONLY = [
  'test/integration/explore.test.ts',
  // the same holds for `faultline run` (cgroup connect, send-signal delays, exec tracking), and for
  // the container scenarios of TC rules and socket faults (runc on the host; ~5 min under TCG);
  // syscall faults in a container need lsm or fmod_ret: containers-syscall.test.ts, on debian-6.12
  'test/integration/cli-run.test.ts', 'test/integration/containers.test.ts',
]
/**
 * The examples a user copies (~2.5 min a kernel) run on fei-6.12 only, where openat fails through
 * fmod_ret on the syscall, the mechanism of Ubuntu's kernels; lsm, that of the Debian builds, is
 * syscall-faults' on each.
 */
const EXAMPLES = ['test/integration/examples.test.ts']
const SECURITY = ['test/security/**']
const SECURITY_BY_PATH = ['test/security/helper-path.test.ts', 'test/security/state-dir.test.ts']
const X86_VM = [...KERNEL_FREE, 'test/integration/arch.test.ts']
const RUNNER_GLUE = [...X86_VM, ...ONE_KERNEL]
/**
 * fei-6.12 is debian-6.12's kernel version built with function error injection and kprobe
 * override: what those change is which mechanism a syscall rule gets (fmod_ret on the syscall,
 * kprobe override). It runs the files of syscall and socket rules, arming and isolation; the
 * files whose programs and kernel paths are the same on both 6.12 builds (TC, shaping, DNS,
 * resets, trampolines on the read path, the glob matcher, tp_btf delays, kept links) run on debian-6.12
 * only, to keep CI under an hour (the whole suite took 1110 s here).
 */
const SAME_ON_6_12 = [
  'test/integration/network-faults.test.ts', 'test/integration/network-shaping.test.ts',
  'test/integration/network-capabilities.test.ts', 'test/integration/dns-faults.test.ts',
  'test/integration/connection-reset.test.ts', 'test/integration/leftovers.test.ts',
  'test/integration/netns-enter.test.ts', 'test/integration/corrupt-reads.test.ts',
  'test/integration/syscall-delay.test.ts', 'test/integration/glob.test.ts',
  // cgroup socket hooks, tcx and tp_btf tracking only: no syscall mechanism of fei's
  'test/integration/keep-links.test.ts',
]
const EXTRA_MODULES = ['overlay', 'sch_netem', 'sch_tbf', 'sch_ingress', 'cls_bpf', 'ifb', 'veth', 'sch_htb', 'dummy', 'tun']

export const KERNELS = {
  // The development and CI machine (DESIGN.md): scripts/test.sh checks the host run's skips against it.
  host: {
    describe: 'the running kernel, no VM',
    expect: ['tp_btf', 'send-signal', 'cgroup-sockaddr', 'tcx', 'cls-bpf', 'tbf', 'htb', 'ifb', 'ifb-redirect', 'sock-destroy', 'runc'],
  },
  'debian-6.1': {
    describe: 'Debian 12 linux-image-6.1.0-*-amd64',
    package: /^linux-image-6\.1\.0-\d+-amd64$/,
    expect: ['tp_btf', 'send-signal', 'cgroup-sockaddr', 'lsm', 'security-fmod-ret', 'fexit', 'probe-write-user', 'cls-bpf', 'netem', 'tbf', 'htb', 'ifb'],
    exclude: [...RUNNER_GLUE, ...SECURITY_BY_PATH, ...HOST_ONLY, ...EXAMPLES],
  },
  'debian-6.12': {
    describe: 'Debian 12 backports linux-image-6.12.*+deb12-amd64',
    package: /^linux-image-6\.12\.\d+\+deb12-amd64$/,
    expect: ['tp_btf', 'send-signal', 'cgroup-sockaddr', 'tcx', 'lsm', 'security-fmod-ret', 'fexit', 'probe-write-user', 'cls-bpf', 'netem', 'tbf', 'htb', 'ifb', 'ifb-redirect', 'sock-destroy', 'runc'],
    exclude: [...X86_VM, ...SECURITY, ...HOST_ONLY, ...EXAMPLES],
  },
  'debian-6.12-arm64': {
    describe: 'Debian 12 linux-image-6.12.*+deb12-arm64 on qemu-system-aarch64 (TCG), arm64 userland from packages',
    arch: 'arm64',
    package: /^linux-image-6\.12\.\d+\+deb12-arm64$/,
    expect: ['tp_btf', 'send-signal', 'cgroup-sockaddr', 'tcx', 'lsm', 'security-fmod-ret', 'fexit', 'probe-write-user', 'cls-bpf', 'netem', 'tbf', 'htb', 'ifb', 'ifb-redirect', 'sock-destroy'],
    // Under cross-architecture TCG the whole suite takes too long for CI, and its C, Python and Go
    // fixtures are x86-64 builds or need a compiler: the matrix runs these (one per mechanism) here.
    suite: ['test/integration/arch.test.ts', 'test/integration/expected-features.test.ts'],
  },
  'fei-6.12': {
    describe: '6.12 with function error injection and kprobe override (like Ubuntu), everything built in',
    file: path.join(SHARED_KERNELS, 'vmlinuz-6.12.117-fei'),
    expect: ['tp_btf', 'send-signal', 'cgroup-sockaddr', 'tcx', 'kprobe-override', 'fmod-ret-syscall', 'lsm', 'security-fmod-ret', 'fexit', 'probe-write-user', 'cls-bpf', 'netem', 'tbf', 'htb', 'ifb', 'ifb-redirect', 'sock-destroy'],
    exclude: [...RUNNER_GLUE, ...SAME_ON_6_12, ...SECURITY, ...HOST_ONLY],
  },
}

export function ensureTools(tools) {
  const missing = tools.filter(([bin]) => {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' })
      return false
    } catch {
      return true
    }
  })
  if (missing.length === 0) return
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))]
  process.stderr.write(`vm: installing ${pkgs.join(' ')}\n`)
  retrying(`apt-get install ${pkgs.join(' ')}`, () => execFileSync('sh', ['-c', `(apt-get install -y -qq ${pkgs.join(' ')} || (apt-get update -qq && apt-get install -y -qq ${pkgs.join(' ')})) >/dev/null`], { stdio: 'inherit' }))
}

/** Downloads and unpacks a Debian kernel package once; returns its kernel and initramfs paths. */
function debianKernel(name, spec) {
  const dir = path.join(CACHE, name)
  const done = path.join(dir, '.ready')
  // The initramfs carries the modules: a changed list builds it again.
  const modulesFile = path.join(dir, '.modules')
  const modules = [...BOOT_MODULES, ...EXTRA_MODULES].join(' ')
  const stale = !fs.existsSync(modulesFile) || fs.readFileSync(modulesFile, 'utf8') !== modules
  if (!fs.existsSync(done) || stale) {
    ensureTools([['dpkg', 'dpkg'], ['depmod', 'kmod'], ['apt-get', 'apt'], ['busybox', 'busybox-static']])
    // A foreign-arch kernel: apt knows its packages once the architecture is added; its
    // initramfs gets that arch's busybox, from the guest's userland.
    const debArch = spec.arch === 'arm64' ? 'arm64' : undefined
    if (debArch) ensureForeignArch(debArch)
    const busybox = spec.arch ? path.join(userland(spec.arch).root, 'bin/busybox') : '/bin/busybox'
    const list = execFileSync('sh', ['-c', 'apt-cache pkgnames linux-image- 2>/dev/null || true'], { encoding: 'utf8' })
    let pkgs = list.split('\n').filter((p) => spec.package.test(p))
    if (pkgs.length === 0) {
      retrying('apt-get update', () => execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' }))
      pkgs = execFileSync('apt-cache', ['pkgnames', 'linux-image-'], { encoding: 'utf8' }).split('\n').filter((p) => spec.package.test(p))
    }
    if (pkgs.length === 0) throw new Error(`vm: no package matching ${spec.package} in apt (Debian 12 with bookworm-backports needed)`)
    const pkg = pkgs.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(path.join(dir, 'root'), { recursive: true })
    process.stderr.write(`vm: downloading ${pkg}\n`)
    retrying(`apt-get download ${pkg}`, () => execFileSync('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', debArch ? `${pkg}:${debArch}` : pkg], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] }))
    const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'))
    execFileSync('dpkg', ['-x', deb, 'root'], { cwd: dir })
    fs.rmSync(path.join(dir, deb))
    const version = fs.readdirSync(path.join(dir, 'root/lib/modules'))[0]
    execFileSync('depmod', ['-b', path.join(dir, 'root'), version])
    const vmlinuz = path.join(dir, 'root/boot', `vmlinuz-${version}`)
    fs.writeFileSync(path.join(dir, 'initrd.cpio'), buildInitramfs(path.join(dir, 'root/lib/modules', version), busybox))
    fs.copyFileSync(vmlinuz, path.join(dir, 'vmlinuz'))
    fs.rmSync(path.join(dir, 'root'), { recursive: true, force: true })
    fs.writeFileSync(done, `${pkg}\n`)
    fs.writeFileSync(modulesFile, modules)
  }
  return { kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.cpio'), label: fs.readFileSync(done, 'utf8').trim(), arch: spec.arch ?? 'x64' }
}

/** Resolves a kernel name to what QEMU boots. */
export function resolveKernel(name) {
  const spec = KERNELS[name]
  if (!spec) throw new Error(`vm: unknown kernel "${name}"; known: ${Object.keys(KERNELS).join(', ')}`)
  if (name === 'host') return { host: true, label: 'host' }
  if (spec.file) {
    if (!fs.existsSync(spec.file)) {
      throw new Error(`vm: ${spec.file} is missing; build it with ${path.join(SHARED_KERNELS, 'build.sh')} (see that script's header)`)
    }
    return { kernel: spec.file, initrd: undefined, label: path.basename(spec.file), arch: 'x64' }
  }
  return debianKernel(name, spec)
}

// --- initramfs: busybox + the modules, as a newc cpio archive written here (no cpio tool needed)

function modulesInOrder(modDir, wanted) {
  const deps = new Map()
  const byName = new Map()
  for (const line of fs.readFileSync(path.join(modDir, 'modules.dep'), 'utf8').split('\n')) {
    const [mod, rest] = line.split(':')
    if (!mod) continue
    deps.set(mod, rest.trim() ? rest.trim().split(/\s+/) : [])
    byName.set(path.basename(mod).replace(/\.ko(\.xz|\.zst)?$/, '').replace(/-/g, '_'), mod)
  }
  const order = []
  const visit = (mod) => {
    if (order.includes(mod)) return
    for (const d of deps.get(mod) ?? []) visit(d)
    order.push(mod)
  }
  for (const w of wanted) {
    const mod = byName.get(w)
    if (mod) visit(mod) // absent = built in
  }
  return order
}

function cpioEntry(name, mode, data = Buffer.alloc(0)) {
  const nameBuf = Buffer.from(`${name}\0`)
  const hex = (n) => n.toString(16).padStart(8, '0')
  const header = `070701${hex(0)}${hex(mode)}${hex(0)}${hex(0)}${hex(1)}${hex(0)}${hex(data.length)}${hex(0)}${hex(0)}${hex(0)}${hex(0)}${hex(nameBuf.length)}${hex(0)}`
  const pad = (len) => Buffer.alloc((4 - (len % 4)) % 4)
  const head = Buffer.concat([Buffer.from(header), nameBuf])
  return Buffer.concat([head, pad(head.length), data, pad(data.length)])
}

function buildInitramfs(modDir, busybox) {
  const mods = modulesInOrder(modDir, [...BOOT_MODULES, ...EXTRA_MODULES])
  const entries = [cpioEntry('bin', 0o40755), cpioEntry('dev', 0o40755), cpioEntry('proc', 0o40755), cpioEntry('sys', 0o40755), cpioEntry('newroot', 0o40755), cpioEntry('lib', 0o40755)]
  entries.push(cpioEntry('bin/busybox', 0o100755, fs.readFileSync(busybox)))
  mods.forEach((m, i) => entries.push(cpioEntry(`lib/${String(i).padStart(2, '0')}-${path.basename(m)}`, 0o100644, fs.readFileSync(path.join(modDir, m)))))
  entries.push(cpioEntry('init', 0o100755, fs.readFileSync(new URL('initramfs-init.sh', import.meta.url))))
  entries.push(cpioEntry('TRAILER!!!', 0))
  return Buffer.concat(entries)
}
