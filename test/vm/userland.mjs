// The root filesystem of a guest whose architecture differs from the host's (arm64 on an x86-64
// host): it cannot run the host's binaries, so it gets a userland of its own, built from packages
// only: Debian's dash, busybox-static, util-linux, iproute2 and libbpf1 with the libraries they and Node need
// (apt-get download after dpkg --add-architecture, unpacked with dpkg -x), Node from the npm
// registry's node-linux-<arch> package at the host's Node version, and npm itself (the `npm`
// package) for npx. The checkout is not copied: the guest sees the host's root over 9p and binds
// the paths a job needs from it (initramfs-init.sh). Its node_modules holds the host's native
// parts (koffi's, Vite's rolldown and esbuild...): provideNativeParts() adds the guest arch's.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { CACHE, REPO } from './kernels.mjs'
import { retrying } from './retry.mjs'

/** Debian architecture names by Node's process.arch names. */
const DEB_ARCH = { arm64: 'arm64' }
/** What the guest runs: dash and util-linux (busybox's sh and unshare would run busybox's own tc
 * applet, not iproute2's), busybox for the rest of the tools, iproute2 (tc, ip) for the shaping
 * and network code, libbpf for faultline, the libraries Node links. */
const ROOTS = ['dash', 'busybox-static', 'util-linux', 'iproute2', 'libbpf1', 'libstdc++6', 'libgcc-s1', 'libc6', 'zlib1g', 'libelf1', 'libzstd1']
/** Depends of the above that the guest needs no part of (maintainer-script machinery). */
const SKIP = /^(debconf|cdebconf|dpkg|tar|install-info|perl-base|debianutils|libcap2-bin|readline-common|libtirpc-common|debconf-2\.0|libdebian-installer4|libnewt0\.52|libslang2|libtextwrap1)$/

const sh = (cmd, opts = {}) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', ...opts })

/** Makes apt know the foreign architecture (dpkg --add-architecture, apt-get update) once. */
export function ensureForeignArch(debArch) {
  const have = sh('dpkg --print-foreign-architectures').split('\n')
  if (have.includes(debArch)) return
  process.stderr.write(`vm: dpkg --add-architecture ${debArch}; apt-get update\n`)
  execFileSync('dpkg', ['--add-architecture', debArch])
  retrying('apt-get update', () => execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] }))
}

/** The packages ROOTS need, for `debArch`, by their Depends/Pre-Depends (first alternative). */
function closure(debArch) {
  const seen = new Set()
  let todo = [...ROOTS]
  while (todo.length) {
    const out = sh(`apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances ${todo.map((p) => `${p}:${debArch}`).join(' ')}`)
    todo.forEach((p) => seen.add(p))
    const next = new Set()
    let alt = false
    for (const line of out.split('\n')) {
      // "  Depends: libc6" / " |Depends: a" (an alternative follows): take the first of each group.
      const m = /^\s*(\|)?(?:Pre)?Depends: <?([^\s:>]+)/.exec(line)
      if (!m) continue
      if (!alt && !seen.has(m[2]) && !SKIP.test(m[2])) next.add(m[2])
      alt = Boolean(m[1])
    }
    todo = [...next].filter((p) => !seen.has(p))
  }
  return [...seen].sort()
}

/** apt-get download names: `<pkg>:<arch>`, or the bare name for Architecture: all packages (no arch candidate). */
function downloadNames(pkgs, debArch) {
  const policy = sh(`apt-cache policy ${pkgs.map((p) => `${p}:${debArch}`).join(' ')}`)
  const none = new Set([...policy.matchAll(/^(\S+):\S+:\n\s+Installed: .*\n\s+Candidate: \(none\)/gm)].map((m) => m[1]))
  return pkgs.map((p) => (none.has(p) ? p : `${p}:${debArch}`))
}

const npmPack = (spec, dir) => {
  const name = retrying(`npm pack ${spec}`, () => sh(`npm pack --silent ${spec}`, { cwd: dir })).trim().split('\n').at(-1)
  return path.join(dir, name)
}

/** Builds (once) and returns the userland for `arch`: { root, label }. */
export function userland(arch) {
  const debArch = DEB_ARCH[arch]
  if (!debArch) throw new Error(`vm: no userland recipe for arch "${arch}"; known: ${Object.keys(DEB_ARCH).join(', ')}`)
  const nodeVersion = process.versions.node
  const npmVersion = sh('npm --version').trim()
  const dir = path.join(CACHE, `userland-${arch}`)
  const root = path.join(dir, 'root')
  const label = `node ${nodeVersion}, npm ${npmVersion}`
  const done = path.join(dir, '.ready')
  if (fs.existsSync(done) && fs.readFileSync(done, 'utf8').startsWith(`${label};`)) return { root, label: fs.readFileSync(done, 'utf8').trim() }
  ensureForeignArch(debArch)
  fs.rmSync(dir, { recursive: true, force: true })
  const dl = path.join(dir, 'download')
  fs.mkdirSync(dl, { recursive: true })
  const pkgs = closure(debArch)
  process.stderr.write(`vm: building the ${arch} userland: ${pkgs.join(' ')}; node-linux-${arch}@${nodeVersion}, npm@${npmVersion}\n`)
  retrying(`apt-get download (the ${arch} userland)`, () => execFileSync('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', ...downloadNames(pkgs, debArch)], { cwd: dl, stdio: ['ignore', 'ignore', 'inherit'] }))
  for (const deb of fs.readdirSync(dl).filter((f) => f.endsWith('.deb'))) execFileSync('dpkg', ['-x', deb, root], { cwd: dl })
  // Node: bin/node of the registry's node-linux-<arch> package; npm (for npx) is plain JS.
  const nodeTgz = npmPack(`node-linux-${arch}@${nodeVersion}`, dl)
  fs.mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true })
  sh(`tar -xzf '${nodeTgz}' -O package/bin/node > '${root}/usr/local/bin/node' && chmod 755 '${root}/usr/local/bin/node'`)
  const npmDir = path.join(root, 'usr/local/lib/node_modules/npm')
  fs.mkdirSync(npmDir, { recursive: true })
  sh(`tar -xzf '${npmPack(`npm@${npmVersion}`, dl)}' --strip-components=1 -C '${npmDir}'`)
  fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/local/bin/npm'))
  fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(root, 'usr/local/bin/npx'))
  // What a root needs besides packages: mount points, and the few /etc files libc reads.
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'run', 'host', 'etc']) fs.mkdirSync(path.join(root, d), { recursive: true })
  fs.writeFileSync(path.join(root, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n')
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n')
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n')
  fs.writeFileSync(path.join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n')
  fs.rmSync(dl, { recursive: true, force: true })
  fs.writeFileSync(done, `${label}; ${pkgs.join(' ')}\n`)
  return { root, label: fs.readFileSync(done, 'utf8').trim() }
}

/**
 * Packages with a native part ship it as per-platform packages (@koromix/koffi-linux-x64,
 * @rolldown/binding-linux-x64-gnu, @esbuild/linux-x64...) that npm installs for the host's arch
 * only. For each such package in `projectDir`/node_modules, puts the guest arch's counterpart
 * (same name with the arch swapped, same version, from `npm pack`, cached) beside it: what npm
 * install on that arch would have put there.
 */
export function provideNativeParts(arch, projectDir = REPO) {
  const modules = path.join(projectDir, 'node_modules')
  if (!fs.existsSync(modules)) return
  const hostArch = process.arch
  const cache = path.join(CACHE, `native-${arch}`)
  const dirs = fs.readdirSync(modules).flatMap((d) => (d.startsWith('@') ? fs.readdirSync(path.join(modules, d)).map((n) => `${d}/${n}`) : [d]))
  for (const name of dirs) {
    const pj = path.join(modules, name, 'package.json')
    if (!name.includes(hostArch) || !fs.existsSync(pj)) continue
    const { cpu, os, version } = JSON.parse(fs.readFileSync(pj, 'utf8'))
    if (!cpu?.includes(hostArch) || !os?.includes('linux')) continue
    const other = name.replace(hostArch, arch)
    const dest = path.join(modules, other)
    if (fs.existsSync(path.join(dest, 'package.json')) && JSON.parse(fs.readFileSync(path.join(dest, 'package.json'), 'utf8')).version === version) continue
    const cached = path.join(cache, `${other.replace('/', '+')}@${version}`)
    if (!fs.existsSync(path.join(cached, 'package.json'))) {
      process.stderr.write(`vm: npm pack ${other}@${version} (the ${arch} part of ${name})\n`)
      fs.mkdirSync(cached, { recursive: true })
      sh(`tar -xzf '${npmPack(`${other}@${version}`, cache)}' --strip-components=1 -C '${cached}' && rm -f '${cache}'/*.tgz`)
    }
    fs.rmSync(dest, { recursive: true, force: true })
    fs.cpSync(cached, dest, { recursive: true })
  }
}
