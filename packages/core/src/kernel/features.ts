/**
 * "Can this kernel do X?", one question per feature, answered by really loading (and where it
 * matters attaching) the smallest program of that kind from probe.bpf.o, cached per process.
 * EPERM stays EPERM ("not permitted here"), distinct from "not supported by this kernel".
 */
import os from 'node:os'
import createDebug from 'debug'
import { BpfObject, LibbpfError, attachTracepoint, attachCgroup, attachKprobe, attachTrace, attachLsm, attachTcx, openCgroup, type Link, errnoName } from '../libbpf/index.js'
import { bpfObjectPath } from '../paths.js'
import { cgroup2Mount } from './cgroup.js'
import { probeQdiscFeature, type QdiscFeature } from './qdisc.js'
import fs from 'node:fs'

const debug = createDebug('faultline:kernel')

export const BPF_FEATURES = [
  'tp_btf',
  'cgroup-sockaddr',
  'tcx',
  'kprobe-override',
  'fmod-ret-syscall',
  'lsm',
  'security-fmod-ret',
] as const
export type BpfFeature = (typeof BPF_FEATURES)[number]
export type Feature = BpfFeature | QdiscFeature
export const FEATURES: readonly Feature[] = [...BPF_FEATURES, 'cls-bpf', 'netem', 'tbf', 'htb', 'ifb', 'ifb-redirect']

export interface FeatureResult {
  feature: Feature
  available: boolean
  /** 'ok', or why not: "EPERM: not permitted here", "not supported: ...". */
  reason: string
  /** The errno of the failing step, when one failed. */
  errno?: number
}

/** What each feature is, for `doctor` and error messages. */
export const FEATURE_DESCRIPTIONS: Record<Feature, string> = {
  tp_btf: 'BTF tracepoints (process tracking: fork/exec/exit)',
  'cgroup-sockaddr': 'cgroup socket hooks with bpf_set_retval (connect, bind, sendmsg, socket, sockopt)',
  tcx: 'tcx links (TC programs owned by an fd; kernel >= 6.6)',
  'kprobe-override': 'kprobe + bpf_override_return on syscall entries (CONFIG_BPF_KPROBE_OVERRIDE)',
  'fmod-ret-syscall': 'fmod_ret on syscall entries (BPF trampolines + CONFIG_FUNCTION_ERROR_INJECTION)',
  lsm: 'lsm/ programs (bpf in the active LSM list)',
  'security-fmod-ret': 'fmod_ret on security_* LSM hooks (BPF trampolines)',
  'cls-bpf': 'clsact qdisc + cls_bpf filters (TC programs before tcx)',
  netem: 'netem qdisc (delay, jitter)',
  tbf: 'tbf qdisc (bandwidth)',
  htb: 'htb qdisc (steers the targets\' packets into per-rule delay and bandwidth classes)',
  ifb: 'ifb devices (ingress shaping)',
  'ifb-redirect': 'bpf_redirect into an IFB device (ingress delay and bandwidth; Linux >= 6.4)',
}

/** The syscall entry symbol prefix of this architecture. */
export function syscallPrefix(): string {
  return os.arch() === 'arm64' ? '__arm64_sys_' : '__x64_sys_'
}

const cache = new Map<Feature, FeatureResult>()

export function probeFeature(feature: Feature): FeatureResult {
  const hit = cache.get(feature)
  if (hit) return hit
  const result = (BPF_FEATURES as readonly string[]).includes(feature)
    ? probeBpf(feature as BpfFeature)
    : probeQdiscFeature(feature as QdiscFeature, probeFeature)
  debug('probe %s: %s', feature, result.reason)
  cache.set(feature, result)
  return result
}

export function probeAll(): FeatureResult[] {
  return FEATURES.map(probeFeature)
}

export function hasFeature(feature: Feature): boolean {
  return probeFeature(feature).available
}

const PROGRAM_OF: Record<BpfFeature, string> = {
  tp_btf: 'probe_tp_btf',
  'cgroup-sockaddr': 'probe_cgroup_sockaddr',
  tcx: 'probe_tc',
  'kprobe-override': 'probe_kprobe_override',
  'fmod-ret-syscall': 'probe_fmod_ret_syscall',
  lsm: 'probe_lsm',
  'security-fmod-ret': 'probe_security_fmod_ret',
}

function probeBpf(feature: BpfFeature): FeatureResult {
  const name = PROGRAM_OF[feature]
  let obj: BpfObject | undefined
  let link: Link | undefined
  let step = 'open'
  try {
    obj = BpfObject.open(bpfObjectPath('probe'))
    for (const p of obj.programs()) if (p.name !== name) obj.setAutoload(p.name, false)
    if (feature === 'fmod-ret-syscall') obj.setAttachTarget(name, `${syscallPrefix()}close`)
    step = 'load'
    obj.load()
    step = 'attach'
    const program = obj.program(name)
    link = attachProbe(feature, program)
    return { feature, available: true, reason: 'ok' }
  } catch (err) {
    if (!(err instanceof LibbpfError)) return { feature, available: false, reason: `probe failed: ${(err as Error).message}` }
    return { feature, available: false, errno: err.errno, reason: explain(feature, step, err) }
  } finally {
    link?.destroy()
    obj?.close()
  }
}

function attachProbe(feature: BpfFeature, program: ReturnType<BpfObject['program']>): Link | undefined {
  switch (feature) {
    case 'tp_btf':
      return attachTracepoint(program)
    case 'cgroup-sockaddr': {
      const mount = cgroup2Mount()
      if (!mount) throw new LibbpfError('find a cgroup v2 mount in /proc/mounts', 2)
      const fd = openCgroup(mount)
      try {
        return attachCgroup({ program, cgroupFd: fd, cgroupPath: mount })
      } finally {
        fs.closeSync(fd)
      }
    }
    case 'tcx':
      return attachTcx({ program, ifindex: 1, direction: 'ingress', interfaceName: 'lo' })
    case 'kprobe-override':
      return attachKprobe({ program, func: `${syscallPrefix()}getppid` })
    case 'fmod-ret-syscall':
    case 'security-fmod-ret':
      return attachTrace(program)
    case 'lsm':
      return attachLsm(program)
  }
}

function explain(feature: BpfFeature, step: string, err: LibbpfError): string {
  const code = errnoName(err.errno)
  if (err.errno === 1) return `EPERM at ${step}: not permitted here (missing capability, or this program type is denied on this machine)`
  const hints: Partial<Record<BpfFeature, string>> = {
    tp_btf: 'needs kernel BTF (/sys/kernel/btf/vmlinux)',
    'cgroup-sockaddr': 'needs cgroup v2 and bpf_set_retval (kernel >= 6.1)',
    tcx: 'needs kernel >= 6.6',
    'kprobe-override': 'needs CONFIG_KPROBES and CONFIG_BPF_KPROBE_OVERRIDE',
    'fmod-ret-syscall': 'needs BPF trampolines and CONFIG_FUNCTION_ERROR_INJECTION',
    lsm: 'needs bpf in the active LSM list (lsm=...,bpf on the kernel command line)',
    'security-fmod-ret': 'needs BPF trampolines (fmod_ret)',
  }
  return `${code} at ${step}: not supported by this kernel (${hints[feature]})`
}

/** For tests: forget cached answers. */
export function resetFeatureCache(): void {
  cache.clear()
}
