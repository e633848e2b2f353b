/**
 * The names of the kernel features faultline probes, and the shape of a probe's answer: a leaf
 * that features.ts (the probes) and qdisc.ts (the qdisc probes it calls) both read.
 */
import type { CapName } from './privileges.js'

/** The tc features, probed by qdisc.ts with `tc` in a network namespace of their own. */
export type QdiscFeature = 'cls-bpf' | 'netem' | 'tbf' | 'htb' | 'ifb' | 'ifb-redirect'

export const BPF_FEATURES = [
  'tp_btf',
  'cgroup-sockaddr',
  'tcx',
  'kprobe-override',
  'fmod-ret-syscall',
  'lsm',
  'security-fmod-ret',
  'sock-destroy',
  'send-signal',
  'fexit',
  'probe-write-user',
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
  /** Capabilities this process lacks for the feature: not probed (or refused) for want of them, not for the kernel. */
  missingCapabilities?: CapName[]
  /** What the kernel's config or sysfs says, read without privileges (e.g. "CONFIG_NET_SCH_HTB=y"). */
  kernel?: string
  /**
   * The probe itself failed (its object file, memory, a missing tool, a timeout): not an answer
   * about the kernel. `reason` gives the step and the cause; tests needing the feature fail on it.
   */
  probeError?: true
}

/**
 * The capabilities each feature needs (CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON):
 * tracing programs need CAP_BPF + CAP_PERFMON, networking ones (cgroup socket hooks, TC)
 * CAP_BPF + CAP_NET_ADMIN, qdiscs and IFB devices CAP_NET_ADMIN.
 */
