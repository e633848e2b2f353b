/**
 * `faultline doctor`: what this kernel and this process allow, which mechanisms are available,
 * and which syscalls can be failed. Exit status 1 when faultline cannot run at all here.
 */
import fs from 'node:fs'
import os from 'node:os'
import { cgroup2Mount, FEATURES, FEATURE_DESCRIPTIONS, mechanismCoverage, probeFeature, readPrivileges, GRANT_ADVICE, type FeatureResult } from '../kernel/index.js'
import { libbpfVersion, LibbpfMissingError } from '../libbpf/index.js'

export interface DoctorReport {
  kernel: string
  arch: string
  libbpf: string | null
  libbpfError?: string
  uid: number
  capabilities: Record<string, boolean>
  missingCapabilities: string[]
  cgroup2: string | null
  btf: boolean
  features: FeatureResult[]
  mechanisms: ReturnType<typeof mechanismCoverage>
  /** faultline can arm at least socket-call rules here. */
  usable: boolean
  problems: string[]
}

export function doctorReport(): DoctorReport {
  const priv = readPrivileges()
  const problems: string[] = []
  let libbpf: string | null = null
  let libbpfError: string | undefined
  try {
    libbpf = libbpfVersion()
  } catch (err) {
    libbpfError = (err as Error).message
    problems.push(libbpfError)
  }
  if (priv.missing.length) problems.push(`missing ${priv.missing.join(', ')}: ${GRANT_ADVICE}`)
  const btf = fs.existsSync('/sys/kernel/btf/vmlinux')
  if (!btf) problems.push('no kernel BTF (/sys/kernel/btf/vmlinux): faultline needs CONFIG_DEBUG_INFO_BTF')
  const features = libbpf ? FEATURES.map(probeFeature) : []
  const mechanisms = libbpf ? mechanismCoverage() : []
  if (libbpf && !features.find((f) => f.feature === 'tp_btf')?.available) problems.push('process tracking (tp_btf) is unavailable')
  const usable = problems.length === 0 && mechanisms.some((m) => m.available)
  return {
    kernel: os.release(),
    arch: os.arch(),
    libbpf,
    ...(libbpfError ? { libbpfError } : {}),
    uid: priv.uid,
    capabilities: priv.effective,
    missingCapabilities: priv.missing,
    cgroup2: cgroup2Mount(),
    btf,
    features,
    mechanisms,
    usable,
    problems,
  }
}

export function formatDoctor(r: DoctorReport, color: boolean): string {
  const g = (s: string) => (color ? `\x1b[32m${s}\x1b[0m` : s)
  const red = (s: string) => (color ? `\x1b[31m${s}\x1b[0m` : s)
  const mark = (ok: boolean) => (ok ? g('yes') : red('no '))
  const lines = [
    'faultline doctor',
    `  kernel       ${r.kernel} (${r.arch})`,
    `  libbpf       ${r.libbpf ?? red(`missing: ${r.libbpfError}`)}`,
    `  privileges   uid ${r.uid}; ${Object.entries(r.capabilities).map(([c, v]) => `${c} ${v ? 'yes' : 'no'}`).join(', ')}`,
    `  cgroup v2    ${r.cgroup2 ?? red('not mounted')}`,
    `  kernel BTF   ${r.btf ? 'yes' : red('no')}`,
    '',
    'kernel features',
    ...r.features.map((f) => `  ${mark(f.available)} ${f.feature.padEnd(18)} ${FEATURE_DESCRIPTIONS[f.feature]}${f.available ? '' : `\n        ${f.reason}`}`),
    '',
    'syscall failure mechanisms',
    ...r.mechanisms.map(
      (m) =>
        `  ${mark(m.available)} ${m.mechanism.padEnd(18)} ${m.describe}: ${m.syscalls === 'any' ? 'any syscall' : m.syscalls.join(', ')}` +
        (m.available ? '' : `\n        ${m.reason}`),
    ),
    '',
  ]
  const servable = r.mechanisms.filter((m) => m.available)
  lines.push(
    'syscalls that can be failed here: ' +
      (servable.some((m) => m.syscalls === 'any')
        ? 'any'
        : [...new Set(servable.flatMap((m) => (m.syscalls === 'any' ? [] : m.syscalls)))].join(', ') || red('none')),
  )
  if (r.problems.length) lines.push('', red('faultline cannot run here:'), ...r.problems.map((p) => `  - ${p}`))
  else lines.push('', g('faultline can run here.'))
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
  return report.usable ? 0 : 1
}
