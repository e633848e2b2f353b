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
import { probeQdiscFeature } from './qdisc.js'
import { BPF_FEATURES, FEATURES, type BpfFeature, type Feature, type FeatureResult, type QdiscFeature } from './feature-names.js'
import fs from 'node:fs'
import { lacking, type CapName } from './privileges.js'
import { activeLsms, configFact } from './kconfig.js'

const debug = createDebug('faultline:kernel')

export { BPF_FEATURES, FEATURES, type BpfFeature, type Feature, type FeatureResult }

export const FEATURE_CAPABILITIES: Record<Feature, CapName[]> = {
  tp_btf: ['CAP_BPF', 'CAP_PERFMON'],
  'cgroup-sockaddr': ['CAP_BPF', 'CAP_NET_ADMIN'],
  tcx: ['CAP_BPF', 'CAP_NET_ADMIN'],
  'kprobe-override': ['CAP_BPF', 'CAP_PERFMON'],
  'fmod-ret-syscall': ['CAP_BPF', 'CAP_PERFMON'],
  lsm: ['CAP_BPF', 'CAP_PERFMON'],
  'security-fmod-ret': ['CAP_BPF', 'CAP_PERFMON'],
  'sock-destroy': ['CAP_BPF', 'CAP_PERFMON'],
  'send-signal': ['CAP_BPF', 'CAP_PERFMON'],
  fexit: ['CAP_BPF', 'CAP_PERFMON'],
  'probe-write-user': ['CAP_SYS_ADMIN'],
  'cls-bpf': ['CAP_BPF', 'CAP_NET_ADMIN'],
  netem: ['CAP_NET_ADMIN'],
  tbf: ['CAP_NET_ADMIN'],
  htb: ['CAP_NET_ADMIN'],
  ifb: ['CAP_NET_ADMIN'],
  'ifb-redirect': ['CAP_BPF', 'CAP_NET_ADMIN'],
}

const CONFIG_OF: Partial<Record<Feature, string>> = {
  'cgroup-sockaddr': 'CONFIG_CGROUP_BPF',
  'kprobe-override': 'CONFIG_BPF_KPROBE_OVERRIDE',
  'fmod-ret-syscall': 'CONFIG_FUNCTION_ERROR_INJECTION',
  lsm: 'CONFIG_BPF_LSM',
  'security-fmod-ret': 'CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS',
  fexit: 'CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS',
  'cls-bpf': 'CONFIG_NET_CLS_BPF',
  netem: 'CONFIG_NET_SCH_NETEM',
  tbf: 'CONFIG_NET_SCH_TBF',
  htb: 'CONFIG_NET_SCH_HTB',
  ifb: 'CONFIG_IFB',
}

function releaseAtLeast(major: number, minor: number): boolean {
  const [a = 0, b = 0] = os.release().split(/[.-]/).map(Number)
  return a > major || (a === major && b >= minor)
}

/**
 * What can be learned about a feature without privileges: the kernel config option, the active
 * LSM list, BTF, the kernel version. `has` is false only when that evidence says the kernel lacks it.
 */
export function kernelEvidence(feature: Feature): { has?: boolean; text: string } | undefined {
  if (feature === 'tp_btf' || feature === 'send-signal') {
    const btf = fs.existsSync('/sys/kernel/btf/vmlinux')
    return { has: btf, text: btf ? 'kernel BTF present' : 'no kernel BTF (/sys/kernel/btf/vmlinux)' }
  }
  if (feature === 'tcx' || feature === 'ifb-redirect' || feature === 'sock-destroy') {
    const [major, minor] = feature === 'tcx' ? [6, 6] : feature === 'sock-destroy' ? [6, 5] : [6, 4]
    const has = releaseAtLeast(major, minor)
    return { has, text: `Linux ${os.release()} (${has ? '>=' : '<'} ${major}.${minor})` }
  }
  if (feature === 'lsm') {
    const lsms = activeLsms()
    if (lsms) return { has: lsms.includes('bpf'), text: `active LSMs: ${lsms.join(',')}` }
  }
  const option = CONFIG_OF[feature]
  const fact = option ? configFact(option) : undefined
  return fact && { has: fact.set, text: fact.text }
}

/** A result for a feature this process may not use for want of capabilities (nothing was tried). */
function lackingCapabilities(feature: Feature, missing: CapName[]): FeatureResult {
  const evidence = kernelEvidence(feature)
  return {
    feature,
    available: false,
    missingCapabilities: missing,
    reason: `not probed: needs ${FEATURE_CAPABILITIES[feature].join(' + ')}, this process lacks ${missing.join(', ')}` + (evidence ? `; kernel: ${evidence.text}` : ''),
    ...(evidence ? { kernel: evidence.text } : {}),
  }
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
  'sock-destroy': 'bpf_sock_destroy from an iter/tcp program (connection resets; Linux >= 6.5)',
  'send-signal': 'tp_btf at raw_syscalls:sys_exit + bpf_send_signal (syscall latency: SIGSTOP, then SIGCONT after the delay)',
  fexit: 'fentry/fexit programs (BPF trampolines): corrupted reads hook the read syscalls\' exit',
  'probe-write-user': 'bpf_probe_write_user (CAP_SYS_ADMIN, no lockdown): corrupted reads write into the reader\'s buffer',
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
  const missing = lacking(FEATURE_CAPABILITIES[feature])
  const result = missing.length
    ? lackingCapabilities(feature, missing)
    : (BPF_FEATURES as readonly string[]).includes(feature)
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
  'sock-destroy': 'probe_sock_destroy',
  // The real program (delay.bpf.o, loaded on its own maps): ring buffer, hash and bpf_send_signal
  // together are what a kernel's verifier must accept.
  'send-signal': 'fl_delay_exit',
  fexit: 'probe_fexit',
  'probe-write-user': 'probe_write_user',
}

function probeBpf(feature: BpfFeature): FeatureResult {
  const name = PROGRAM_OF[feature]
  let obj: BpfObject | undefined
  let link: Link | undefined
  let step = 'open'
  try {
    obj = BpfObject.open(bpfObjectPath(feature === 'send-signal' ? 'delay' : feature === 'sock-destroy' ? 'probe_sock_destroy' : 'probe'))
    for (const p of obj.programs()) if (p.name !== name) obj.setAutoload(p.name, false)
    if (feature === 'fmod-ret-syscall') obj.setAttachTarget(name, `${syscallPrefix()}close`)
    if (feature === 'fexit') obj.setAttachTarget(name, `${syscallPrefix()}read`)
    step = 'load'
    obj.load()
    step = 'attach'
    const program = obj.program(name)
    link = attachProbe(feature, program)
    return { feature, available: true, reason: 'ok' }
  } catch (err) {
    if (!(err instanceof LibbpfError)) return { feature, available: false, probeError: true, reason: `probe error at ${step}: ${(err as Error).message}` }
    if (!kernelRefusal(step, err.errno)) {
      return { feature, available: false, probeError: true, errno: err.errno, reason: `probe error at ${step} (${errnoName(err.errno)} is not the kernel refusing ${feature}): ${err.message}` }
    }
    return { feature, available: false, errno: err.errno, reason: explain(feature, step, err) }
  } finally {
    link?.destroy()
    obj?.close()
  }
}

function attachProbe(feature: BpfFeature, program: ReturnType<BpfObject['program']>): Link | undefined {
  switch (feature) {
    case 'tp_btf':
    case 'send-signal':
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
    case 'fexit':
      return attachTrace(program)
    case 'probe-write-user':
      return undefined // loading is the question: the helper is refused at verification
    case 'lsm':
      return attachLsm(program)
    case 'sock-destroy':
      return undefined // loading is the question: the kfunc and the iter/tcp context resolve at load
  }
}

/**
 * The errnos by which the kernel (or libbpf reading the kernel's BTF) answers "no" at load or
 * attach: the verifier's EINVAL/EACCES/E2BIG, an unknown program or attach type, a function or
 * BTF type it lacks, EPERM. Opening the object is never the kernel's answer; ENOMEM, EMFILE,
 * EBADF, EBUSY and the like are this process's trouble, not a missing feature.
 */
const KERNEL_REFUSALS = new Set([1 /* EPERM */, 2 /* ENOENT */, 3 /* ESRCH */, 7 /* E2BIG */, 13 /* EACCES */, 19 /* ENODEV */, 22 /* EINVAL */, 95 /* EOPNOTSUPP */, 524 /* ENOTSUPP */])

function kernelRefusal(step: string, errno: number): boolean {
  return step !== 'open' && KERNEL_REFUSALS.has(errno)
}

function explain(feature: BpfFeature, step: string, err: LibbpfError): string {
  const code = errnoName(err.errno)
  if (err.errno === 1) {
    const evidence = kernelEvidence(feature)
    return (
      `EPERM at ${step}: denied on this machine although this process holds ${FEATURE_CAPABILITIES[feature].join(' + ')}` +
      (seccompFiltered() ? ' (a seccomp filter is active: container runtimes\' default profiles can refuse bpf(); see `faultline doctor`)' : ' (kernel lockdown, an LSM policy, or this program type is refused here)') +
      (evidence ? `; kernel: ${evidence.text}` : '')
    )
  }
  if (feature === 'probe-write-user' && err.errno === 22) {
    return `${code} at ${step}: the verifier does not offer bpf_probe_write_user here (` +
      (lacking(['CAP_SYS_ADMIN']).length ? 'it needs CAP_SYS_ADMIN' : 'this process holds CAP_SYS_ADMIN: kernel lockdown (LOCKDOWN_BPF_WRITE_USER) or a policy refuses it') + ')'
  }
  const hints: Partial<Record<BpfFeature, string>> = {
    tp_btf: 'needs kernel BTF (/sys/kernel/btf/vmlinux)',
    'cgroup-sockaddr': 'needs cgroup v2 and bpf_set_retval (kernel >= 6.1)',
    tcx: 'needs kernel >= 6.6',
    'kprobe-override': 'needs CONFIG_KPROBES and CONFIG_BPF_KPROBE_OVERRIDE',
    'fmod-ret-syscall': 'needs BPF trampolines and CONFIG_FUNCTION_ERROR_INJECTION',
    lsm: 'needs bpf in the active LSM list (lsm=...,bpf on the kernel command line)',
    'security-fmod-ret': 'needs BPF trampolines (fmod_ret)',
    'sock-destroy': 'needs the bpf_sock_destroy kfunc, Linux >= 6.5',
    'send-signal': 'needs tp_btf at raw_syscalls:sys_exit (btf_trace_sys_exit in the kernel BTF) and bpf_send_signal (Linux >= 5.3)',
    fexit: 'needs BPF trampolines (fentry/fexit)',
    'probe-write-user': 'needs CAP_SYS_ADMIN and no kernel lockdown (LOCKDOWN_BPF_WRITE_USER)',
  }
  return `${code} at ${step}: not supported by this kernel (${hints[feature]})`
}

/** Whether a seccomp filter is on this process (Seccomp: 2 in /proc/self/status). */
export function seccompFiltered(): boolean {
  try {
    return /^Seccomp:\s*2$/m.test(fs.readFileSync('/proc/self/status', 'utf8'))
  } catch {
    return false
  }
}

/**
 * Records a feature proven available by other means (the engine's own object of that kind loaded
 * and attached), so probeFeature() does not load its probe: a tp_btf probe parses the kernel BTF
 * again, ~10 ms of the first arming. An answer already cached stays.
 */
export function noteFeatureAvailable(feature: Feature, how: string): void {
  if (cache.has(feature)) return
  cache.set(feature, { feature, available: true, reason: 'ok' })
  debug('probe %s: ok (%s)', feature, how)
}

/** For tests: forget cached answers. */
export function resetFeatureCache(): void {
  cache.clear()
}
