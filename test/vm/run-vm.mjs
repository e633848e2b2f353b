// Boots a kernel under QEMU (TCG) with the host's root shared read-only over virtio-9p, runs one
// command in the caller's directory with the caller's environment, streams its output, and
// resolves to its exit status: 124 if the VM timed out, 125 if it died without reporting one.
// An arm64 kernel boots in qemu-system-aarch64 on an arm64 userland (userland.mjs) instead of
// the host's root, with the checkout, the job and the command's directory bound from the host.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { CACHE, REPO, ensureTools, resolveKernel } from './kernels.mjs'
import { provideNativeParts, userland } from './userland.mjs'

export const EXIT_TIMEOUT = 124
export const EXIT_VM_DIED = 125
const MARKER = /@@FL-EXIT:(\d+)@@/
const START = '@@FL-START@@'

const HOST_ARCH = process.arch
/** The QEMU of each guest arch: [binary, Debian package], machine arguments, serial console. */
const MACHINES = {
  x64: { tool: ['qemu-system-x86_64', 'qemu-system-x86'], args: ['-accel', 'tcg', '-cpu', 'max'], console: 'ttyS0' },
  // pauth-impdef: QEMU's own pointer-authentication hash instead of emulating QARMA (much faster under TCG).
  arm64: { tool: ['qemu-system-aarch64', 'qemu-system-arm'], args: ['-M', 'virt', '-accel', 'tcg', '-cpu', 'max,pauth-impdef=on'], console: 'ttyAMA0' },
}

/** The host paths a foreign-arch guest binds from /host: real paths, outermost only, colon-separated. */
function guestBinds(paths) {
  const real = [...new Set(paths.map((p) => fs.realpathSync(p).replace(/\/+$/, '')))].sort()
  const outer = real.filter((p) => !real.some((q) => q !== p && p.startsWith(`${q}/`)))
  for (const p of outer) if (/[\s:]/.test(p)) throw new Error(`vm: cannot share ${p} with the guest (whitespace or ':' in the path)`)
  return outer.join(':')
}

const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`

function writeJob(argv, { cwd, env }) {
  const dir = fs.mkdtempSync(path.join(CACHE, 'jobs', 'job-'))
  const vars = Object.entries(env).filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(k))
  fs.writeFileSync(path.join(dir, 'env.sh'), vars.map(([k, v]) => `export ${k}=${quote(v)}`).join('\n') + `\nexport FL_CWD=${quote(cwd)} HOME=/tmp FL_VM=1\n`)
  fs.writeFileSync(path.join(dir, 'cmd.sh'), `exec ${argv.map(quote).join(' ')}\n`)
  return dir
}

/**
 * @param {string} kernelName
 * @param {string[]} argv
 * @param {{ timeout?: number, mem?: string, cpus?: number, verbose?: boolean, cwd?: string, env?: object, onOutput?: (chunk: string) => void }} opts
 * @returns {Promise<{ status: number, ms: number, output: string, started?: boolean, why?: string }>}
 *   `started`: the guest began the command; `why`, when the VM ended without a status: QEMU's
 *   stderr and the console's last lines (a VM that dies before the command starts says nothing else).
 */
export async function runInVm(kernelName, argv, opts = {}) {
  const cwd = opts.cwd ?? process.cwd()
  const env = opts.env ?? process.env
  const write = opts.onOutput ?? ((s) => process.stdout.write(s))
  const k = resolveKernel(kernelName)
  const t0 = Date.now()
  if (k.host) {
    return new Promise((resolve) => {
      // its own process group: the timeout stops the command and everything it started
      const p = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      let output = ''
      let timedOut = false
      // a group of its own does not get the terminal's Ctrl-C: pass it on, as to QEMU below
      const kill = () => { try { process.kill(-p.pid, 'SIGKILL') } catch { /* gone */ } }
      const timer = setTimeout(() => { timedOut = true; kill() }, (opts.timeout ?? 600) * 1000)
      process.once('SIGINT', kill).once('SIGTERM', kill).once('exit', kill)
      const done = (status) => {
        clearTimeout(timer)
        process.off('SIGINT', kill).off('SIGTERM', kill).off('exit', kill)
        resolve({ status, ms: Date.now() - t0, output, started: true })
      }
      const on = (d) => { output += d; write(d.toString()) }
      p.stdout.on('data', on)
      p.stderr.on('data', on)
      p.on('error', () => done(127))
      p.on('close', (code) => done(timedOut ? EXIT_TIMEOUT : code ?? 128 + 9))
    })
  }
  const machine = MACHINES[k.arch]
  ensureTools([machine.tool])
  fs.mkdirSync(path.join(CACHE, 'jobs'), { recursive: true })
  const foreignArch = k.arch !== HOST_ARCH
  // A foreign-arch guest binds real paths from the host (guestBinds): the job names them so.
  const job = fs.realpathSync(writeJob(argv, { cwd: foreignArch ? fs.realpathSync(cwd) : cwd, env }))
  const guestInit = path.join(REPO, 'test/vm/guest-init.sh')
  const rootflags = 'trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144'
  const fsdev = (id, dir, tag) => ['-fsdev', `local,id=${id},path=${dir},security_model=none,readonly=on,multidevs=remap`, '-device', `virtio-9p-pci,fsdev=${id},mount_tag=${tag}`]
  let foreign = []
  let binds = ''
  if (foreignArch) {
    const u = userland(k.arch)
    provideNativeParts(k.arch)
    if (fs.realpathSync(cwd) !== fs.realpathSync(REPO)) provideNativeParts(k.arch, cwd)
    foreign = fsdev('u', u.root, 'fl-userland')
    binds = guestBinds([REPO, job, cwd])
  }
  const append = [
    `console=${machine.console}`, opts.verbose ? '' : 'quiet loglevel=1', 'panic=-1', 'oops=panic', 'root=/dev/root', 'rootfstype=9p',
    `rootflags=${rootflags}`, 'ro', k.initrd ? `fl.init=${guestInit}` : `init=${guestInit}`, `fl.job=${job}`,
    binds && `fl.userland fl.binds=${binds}`, 'lsm=lockdown,capability,landlock,yama,apparmor,bpf',
  ].filter(Boolean).join(' ')
  const args = [
    ...machine.args, '-smp', String(opts.cpus ?? 2), '-m', opts.mem ?? '2G', '-nographic', '-no-reboot', '-nic', 'none',
    '-kernel', k.kernel, ...(k.initrd ? ['-initrd', k.initrd] : []),
    ...fsdev('r', '/', '/dev/root'), ...foreign,
    '-append', append,
  ]
  return new Promise((resolve) => {
    const qemu = spawn(machine.tool[0], args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let status
    let output = ''
    let pending = ''
    let timedOut = false
    let started = false
    let stderr = ''
    let consoleTail = ''
    const timer = setTimeout(() => { timedOut = true; qemu.kill('SIGKILL') }, (opts.timeout ?? 600) * 1000)
    const kill = () => qemu.kill('SIGKILL')
    process.once('SIGINT', kill).once('SIGTERM', kill).once('exit', kill)
    qemu.stdout.on('data', (d) => {
      pending += d.toString().replace(/\r/g, '')
      let i
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i + 1)
        pending = pending.slice(i + 1)
        // Firmware and kernel noise before the command starts and after it ends is shown only with --verbose.
        consoleTail = (consoleTail + line).slice(-4000)
        if (line.includes(START)) { started = true; continue }
        const m = MARKER.exec(line)
        if (m) { status = Number(m[1]); continue }
        if (!(started && status === undefined) && !opts.verbose) continue
        output += line
        write(line)
      }
    })
    qemu.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); if (opts.verbose) process.stderr.write(d) })
    qemu.on('close', () => {
      clearTimeout(timer)
      process.off('SIGINT', kill).off('SIGTERM', kill).off('exit', kill)
      if (pending && MARKER.test(pending)) status = Number(MARKER.exec(pending)[1])
      fs.rmSync(job, { recursive: true, force: true })
      const died = !timedOut && status === undefined
      const why = died ? `QEMU's stderr: ${stderr.trim() || '(empty)'}; the console's last lines: ${consoleTail.trim().split('\n').slice(-8).join(' | ') || '(none)'}` : undefined
      resolve({ status: timedOut ? EXIT_TIMEOUT : status ?? EXIT_VM_DIED, ms: Date.now() - t0, output, started, ...(why ? { why } : {}) })
    })
  })
}
