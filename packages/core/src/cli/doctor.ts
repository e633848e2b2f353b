/**
 * `faultline doctor`: what this kernel and this process allow, which mechanisms are available
 * and the capabilities each needs, which syscalls can be failed, and, in a container, the
 * flags that give it what is missing.
 *
 * Without privileges it probes nothing that needs them: it reads what needs none (kernel BTF,
 * the kernel config, the active LSMs, the cgroup mount) and says which probes need which
 * capabilities. Exit status: 0 when it could report and found nothing that privileges would
 * not fix; 1 when this machine cannot run faultline (no libbpf, no BTF, no cgroup v2, a kernel
 * without the mechanisms, or bpf() refused although the capabilities are held).
 */
import fs from 'node:fs'
import os from 'node:os'
import { cgroup2Mount, FEATURES, FEATURE_DESCRIPTIONS, mechanismCoverage, probeFeature, readPrivileges, GRANT_ADVICE, MECHANISM_INFO, type FeatureResult, type MechanismCoverage } from '../kernel/index.js'
import { FEATURE_CAPABILITIES, kernelEvidence } from '../kernel/features.js'
import { activeLsms, kernelConfig } from '../kernel/kconfig.js'
import { containerRecipes, detectContainer, type ContainerInfo } from '../kernel/container.js'
import { libbpfVersion, LibbpfMissingError } from '../libbpf/index.js'
import { targetCgroupOutlook } from '../engine/target-cgroup.js'
import { stateDir, untrustedDir } from '../engine/state/dir.js'
import { HELPERS, helperPath, type Helper } from '../helpers.js'

type MechanismState = 'yes' | 'no' | 'needs privileges'

export interface DoctorReport {
  kernel: string
  arch: string
  libbpf: string | null
  libbpfError?: string
  uid: number
  capabilities: Record<string, boolean>
  missingCapabilities: string[]
  cgroup2: string | null
  /** The helper programs faultline runs, by absolute path from the system directories (never PATH); null = not found. */
  helpers: Record<Helper, string | null>
  /** The state directory, and why it is refused when another user could change it. */
  stateDir: { path: string; refused?: string }
  /** Where the socket hooks go (engine/target-cgroup.ts): a per-process cgroup, or the root and why. */
  targetCgroup: { own: boolean; where: string; reason?: string }
  btf: boolean
  /** Where the kernel config was read (/boot/config-*, /proc/config.gz), or null. */
  kernelConfig: string | null
  lsms: string[] | null
  container: ContainerInfo
  features: FeatureResult[]
  mechanisms: (MechanismCoverage & { state: MechanismState; capabilities: string[]; why: string })[]
  /** Network faults: the TC programs (drop, corrupt, duplicate) and shaping (delay, bandwidth). */
  network: { tc: string[]; shaping: string[] }
  /** Network rules with action reset: whether this kernel can destroy sockets (bpf_sock_destroy), and why not. */
  resets: { state: MechanismState; why: string }
  /** DNS failures by name: served by the network TC programs (tcx, else cls_bpf), or why not. */
  dns: { available: boolean; how: string }
  /** This process can arm at least socket-call rules now. */
  usable: boolean
  /** Nothing found that privileges would not fix (exit status 0). */
  machineReady: boolean
  /** What stops faultline on this machine whatever the privileges. */
  problems: string[]
  /** Missing privileges and what to do, container advice, weaker guards. */
  notes: string[]
  /** In a container lacking something: the flags to add, per runtime. */
  recipes?: ReturnType<typeof containerRecipes>
}

const capsOf = (features: readonly (keyof typeof FEATURE_CAPABILITIES)[]) => [...new Set(features.flatMap((f) => FEATURE_CAPABILITIES[f]))]

/**
 * 'needs privileges' when every missing feature lacks only capabilities and the kernel does not
 * say it lacks it; `why` in one line: the capabilities, or what the kernel lacks.
 */
function mechanismState(m: MechanismCoverage, features: FeatureResult[]): { state: MechanismState; why: string } {
  if (m.available) return { state: 'yes', why: '' }
  const failing = MECHANISM_INFO[m.mechanism].needs.map((f) => features.find((r) => r.feature === f)!).filter((r) => !r.available)
  const kernelLacks = failing.filter((r) => r.missingCapabilities && kernelEvidence(r.feature)?.has === false)
  if (failing.every((r) => r.missingCapabilities) && !kernelLacks.length) return { state: 'needs privileges', why: `needs ${capsOf(MECHANISM_INFO[m.mechanism].needs).join(' + ')}` }
  if (kernelLacks.length) return { state: 'no', why: kernelLacks.map((r) => `${r.feature}: the kernel lacks it (${kernelEvidence(r.feature)!.text})`).join('; ') }
  return { state: 'no', why: m.reason }
}

export function doctorReport(): DoctorReport {
  const priv = readPrivileges()
  const problems: string[] = []
  const notes: string[] = []
  let libbpf: string | null = null
  let libbpfError: string | undefined
  try {
    libbpf = libbpfVersion()
  } catch (err) {
    libbpfError = (err as Error).message
    problems.push(libbpfError)
  }
  const btf = fs.existsSync('/sys/kernel/btf/vmlinux')
  if (!btf) problems.push('no kernel BTF (/sys/kernel/btf/vmlinux): faultline needs CONFIG_DEBUG_INFO_BTF')
  const cgroup2 = cgroup2Mount()
  if (!cgroup2) problems.push('no cgroup v2 mount in /proc/mounts: faultline attaches its socket hooks to the cgroup v2 root')
  const container = detectContainer()
  const features = libbpf ? FEATURES.map(probeFeature) : []
  const mechanisms = libbpf
    ? mechanismCoverage().map((m) => ({ ...m, ...mechanismState(m, features), capabilities: capsOf(MECHANISM_INFO[m.mechanism].needs) }))
    : []
  // a probe that got no answer from the kernel says nothing about it: a problem to fix, not a missing feature
  for (const f of features.filter((f) => f.probeError)) problems.push(`the ${f.feature} probe failed, so whether this kernel has it is unknown: ${f.reason}`)
  const tp = features.find((f) => f.feature === 'tp_btf')
  if (tp && !tp.available && !tp.missingCapabilities && !tp.probeError) problems.push(`process tracking (tp_btf) is unavailable: ${tp.reason}`)
  if (libbpf && !mechanisms.some((m) => m.state !== 'no')) problems.push('no syscall failure mechanism can work on this kernel')
  // tp_btf loads wherever bpf() is allowed to a holder of the capabilities: its EPERM under a seccomp filter is the filter
  const seccompBlocks = container.seccomp === 'filter' && tp?.errno === 1 && !tp.missingCapabilities
  if (seccompBlocks) problems.push('bpf() is refused although this process holds the capabilities, and a seccomp filter is active: relax the seccomp profile (see below)')

  if (priv.missing.length) {
    const unprobed = features.filter((f) => f.missingCapabilities).map((f) => f.feature)
    notes.push(
      `this process lacks ${priv.missing.join(', ')}` +
        (unprobed.length ? `, so ${unprobed.join(', ')} were not probed (what the kernel config says is shown)` : '') +
        `; to run faultline: ${container.detected ? 'give the container the capabilities (below)' : GRANT_ADVICE}`,
    )
  }
  if (!priv.effective.CAP_SYS_ADMIN && features.find((f) => f.feature === 'kprobe-override')?.available) {
    notes.push('without CAP_SYS_ADMIN other processes\' BPF links cannot be listed: the check that refuses a kprobe override while another process has a trampoline on the same syscall entry cannot see them')
  }
  let recipes: DoctorReport['recipes']
  if (container.detected && (priv.missing.length || seccompBlocks)) {
    recipes = containerRecipes(['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'], seccompBlocks || (container.seccomp === 'filter' && priv.missing.length > 0))
    if (container.seccomp === 'filter' && !seccompBlocks) {
      notes.push('a seccomp filter is active: Docker\'s default profile allows bpf() and perf_event_open only with CAP_SYS_ADMIN in many releases, hence seccomp=unconfined in the flags below; run doctor again with the capabilities to see whether it is needed')
    }
  }
  const usable = problems.length === 0 && priv.missing.length === 0 && mechanisms.some((m) => m.available)
  return {
    kernel: os.release(),
    arch: os.arch(),
    libbpf,
    ...(libbpfError ? { libbpfError } : {}),
    uid: priv.uid,
    capabilities: priv.effective,
    missingCapabilities: priv.missing,
    cgroup2,
    helpers: Object.fromEntries(HELPERS.map((h) => [h, helperPath(h)])) as Record<Helper, string | null>,
    stateDir: stateDirOutlook(),
    targetCgroup: targetCgroupOutlook(),
    btf,
    kernelConfig: kernelConfig()?.source ?? null,
    lsms: activeLsms() ?? null,
    container,
    features,
    mechanisms,
    network: { tc: capsOf(['tcx', 'cls-bpf']), shaping: capsOf(['htb', 'ifb']) },
    resets: resetState(features),
    dns: dnsSupport(features),
    usable,
    machineReady: problems.length === 0,
    problems,
    notes,
    ...(recipes ? { recipes } : {}),
  }
}

/** The state directory as arming would judge it (engine/state/dir.ts); one not made yet is fine. */
function stateDirOutlook(): DoctorReport['stateDir'] {
  const dir = stateDir()
  const why = fs.existsSync(dir) ? untrustedDir(dir) : undefined
  return { path: dir, ...(why ? { refused: why } : {}) }
}

/** Resets need the socket marks and TC programs (cgroup hooks, tcx or cls_bpf) and bpf_sock_destroy. */
function resetState(features: FeatureResult[]): DoctorReport['resets'] {
  const f = (name: string) => features.find((r) => r.feature === name)
  const needed = [f('sock-destroy'), f('cgroup-sockaddr'), [f('tcx'), f('cls-bpf')].find((r) => r?.available) ?? f('tcx')]
  const failing = needed.filter((r): r is FeatureResult => !!r && !r.available)
  if (!failing.length) return { state: 'yes', why: '' }
  const state: MechanismState = failing.every((r) => r.missingCapabilities) ? 'needs privileges' : 'no'
  return { state, why: failing.map((r) => `${r.feature}: ${r.reason}`).join('; ') }
}

/** DNS rules ride on the network TC programs: tcx where the kernel has it, else cls_bpf. */
function dnsSupport(features: FeatureResult[]): DoctorReport['dns'] {
  const f = (name: string) => features.find((x) => x.feature === name)
  const tcx = f('tcx')
  const cls = f('cls-bpf')
  if (tcx?.available) return { available: true, how: 'in the TC programs (tcx)' }
  if (cls?.available) return { available: true, how: 'in the TC programs (cls_bpf)' }
  return { available: false, how: `needs tcx (${tcx?.reason ?? 'not probed'}) or cls_bpf (${cls?.reason ?? 'not probed'})` }
}

export function formatDoctor(r: DoctorReport, color: boolean): string {
  const g = (s: string) => (color ? `\x1b[32m${s}\x1b[0m` : s)
  const red = (s: string) => (color ? `\x1b[31m${s}\x1b[0m` : s)
  const yellow = (s: string) => (color ? `\x1b[33m${s}\x1b[0m` : s)
  const mark = (ok: boolean, needsPriv = false) => (ok ? g('yes') : needsPriv ? yellow('?  ') : red('no '))
  const c = r.container
  const lines = [
    'faultline doctor',
    `  kernel       ${r.kernel} (${r.arch})`,
    `  libbpf       ${r.libbpf ?? red(`missing: ${r.libbpfError}`)}`,
    `  privileges   uid ${r.uid}; ${Object.entries(r.capabilities).map(([cap, v]) => `${cap} ${v ? 'yes' : 'no'}`).join(', ')}`,
    `  cgroup v2    ${r.cgroup2 ?? red('not mounted')}`,
    `  helpers      ${Object.entries(r.helpers).map(([h, p]) => `${h} ${p ?? red('not found')}`).join(', ')} (system directories only, never PATH)`,
    `  state dir    ${r.stateDir.path}${r.stateDir.refused ? red(` refused: ${r.stateDir.refused}`) : ''}`,
    `  socket hooks ${r.targetCgroup.own ? `on ${r.targetCgroup.where}, made per process: other processes run none of them` : `on ${r.targetCgroup.where} while armed (${r.targetCgroup.reason}): every process there runs them, one lookup per hooked call`}`,
    `  kernel BTF   ${r.btf ? 'yes' : red('no')}`,
    `  kernel config ${r.kernelConfig ?? 'unreadable (no /boot/config-*, no /proc/config.gz)'}; LSMs ${r.lsms?.join(',') ?? 'unreadable (securityfs)'}`,
    `  container    ${c.detected ? `yes${c.runtime ? ` (${c.runtime})` : ''}: ${c.evidence.join('; ')}` : 'no'}; seccomp ${c.seccomp}`,
    '',
    'kernel features ("?" = needs privileges to probe, "err" = the probe failed: unknown)',
    ...r.features.map(
      (f) =>
        `  ${f.probeError ? red('err') : mark(f.available, !!f.missingCapabilities)} ${f.feature.padEnd(18)} ${FEATURE_DESCRIPTIONS[f.feature]}` +
        (f.available ? '' : `\n        ${f.reason}`),
    ),
    '',
    'syscall failure mechanisms (capabilities needed)',
    ...r.mechanisms.map(
      (m) =>
        `  ${mark(m.available, m.state === 'needs privileges')} ${m.mechanism.padEnd(18)} ${m.describe} [${m.capabilities.join(', ')}]: ${m.syscalls === 'any' ? 'any syscall' : m.syscalls.join(', ')}` +
        (m.available ? '' : `\n        ${m.why}`),
    ),
    `  network faults: TC programs [${r.network.tc.join(', ')}], delay and bandwidth [${r.network.shaping.join(', ')}] and the tc and ip commands`,
    `  ${mark(r.resets.state === 'yes', r.resets.state === 'needs privileges')} connection resets (network action reset): TC programs + bpf_sock_destroy from iter/tcp [${capsOf(['tcx', 'sock-destroy']).join(', ')}]` +
      (r.resets.state === 'yes' ? '' : `\n        ${r.resets.why}`),
    `  ${mark(r.dns.available)} dns faults         nxdomain, servfail, timeout by name, UDP and TCP port 53: ${r.dns.how}`,
    '',
  ]
  // send-signal delays calls and fexit-corrupt corrupts what they read: neither fails one.
  const servable = r.mechanisms.filter((m) => m.available && m.mechanism !== 'send-signal' && m.mechanism !== 'fexit-corrupt')
  const delay = r.mechanisms.find((m) => m.mechanism === 'send-signal')
  lines.push(
    'syscalls that can be failed here: ' +
      (servable.some((m) => m.syscalls === 'any')
        ? 'any'
        : [...new Set(servable.flatMap((m) => (m.syscalls === 'any' ? [] : m.syscalls)))].join(', ') || (r.missingCapabilities.length ? yellow('none without privileges') : red('none'))),
  )
  if (delay) lines.push(`syscall latency (delay rules): ${delay.available ? 'yes, any syscall (send-signal)' : `${red('no')}: ${delay.why}`}`)
  if (r.notes.length) lines.push('', ...r.notes.map((n) => `note: ${n}`))
  if (r.recipes) {
    lines.push(
      '',
      'in this container, add:',
      `  docker:          ${r.recipes.docker}`,
      `  podman:          ${r.recipes.podman}`,
      `  GitHub Actions:  ${r.recipes.githubActions}`,
      `  Kubernetes:      ${r.recipes.kubernetes}`,
      `  ${r.recipes.privileged}`,
    )
  }
  if (r.problems.length) lines.push('', red('faultline cannot run on this machine:'), ...r.problems.map((p) => `  - ${p}`))
  else if (r.usable) lines.push('', g('faultline can run here.'))
  else lines.push('', yellow(`faultline can run on this machine with ${r.missingCapabilities.join(', ')} (not held by this process).`))
  return lines.join('\n')
}

export function doctorCommand(args: string[]): number {
  let report: DoctorReport
  try {
    report = doctorReport()
  } catch (err) {
    if (err instanceof LibbpfMissingError) {
      console.error(err.message)
      return 1
    }
    throw err
  }
  if (args.includes('--json')) console.log(JSON.stringify(report, null, 2))
  else console.log(formatDoctor(report, process.stdout.isTTY ?? false))
  return report.machineReady ? 0 : 1
}
