/**
 * The shapes of a faultline config: what a user writes (the `*Input` types, loose: errno by name or
 * number, durations as strings) and what validation produces (normalized, every default filled in).
 * The engine only ever sees the normalized shapes; it never re-validates.
 */

/** How `when` decides which matching calls fail. Everything is counted per armed process tree. */
export interface WhenInput {
  /** Only calls made this long after arming fail (ms, or a string such as "250ms", "2s"). For comm targets, counted from the target's exec. */
  after?: number | string
  /** Only the nth matching call fails (1-based). */
  nth?: number
  /** At most this many calls fail. */
  times?: number
  /** Each eligible call fails with this probability, 0..1. */
  probability?: number
  /** Makes `probability` deterministic: the same seed fails the same call indexes. */
  seed?: number
}

export interface SyscallMatchInput {
  /** Destination/bind port (socket calls). */
  port?: number
  /** IP address or CIDR (socket calls). */
  address?: string
  /** Address family (socket calls). */
  family?: 'inet' | 'inet6' | 4 | 6
  /** Glob on the path argument (path-taking calls; later mechanisms). */
  path?: string
  /** Glob on the path of the file behind the fd argument (fd-taking calls; later mechanisms). */
  fd?: string
  /** openat flags that must all be present, e.g. ['O_CREAT'] (later mechanisms). */
  flags?: string[]
}

export interface SyscallRuleInput {
  name: string
  syscall: string
  /** errno by name ('ECONNREFUSED') or positive number (111). Exactly one of errno / ret. */
  errno?: string | number
  /** Raw negative return value. */
  ret?: number
  /** Instead of errno/ret: the call returns this much later (ms, or "200ms", "1s"): the whole process is paused. Needs target scope 'children'. */
  delay?: number | string
  /** With delay: the pause is drawn uniformly in delay +- jitter (jitter <= delay). */
  jitter?: number | string
  match?: SyscallMatchInput
  when?: WhenInput
  /** Pin the kernel mechanism instead of letting faultline pick the best one available. */
  mechanism?: PinnableMechanism
  /** read / pread64 / readv under match.path: instead of failing, flip `bytes` bytes of what the call read (seeded). */
  corrupt?: { bytes: number; seed?: number }
}

export interface TargetInput {
  /** 'tree' (default): the caller and its descendants; 'children': only descendants; 'system': any process matching comm. */
  scope?: 'tree' | 'children' | 'system'
  /** Only processes whose comm (the kernel's 15-char process name) is one of these. Re-checked at exec. */
  comm?: string[]
}

export interface FailureConfigInput {
  target?: TargetInput
  syscalls?: SyscallRuleInput[]
  /** Network faults (a later issue); validated by config/network.ts when present. */
  network?: unknown[]
  /** DNS failures by name; validated by config/dns.ts when present. */
  dns?: { name: string; answer: 'nxdomain' | 'servfail' | 'timeout'; when?: Pick<WhenInput, 'after' | 'times' | 'probability' | 'seed'> }[]
}

// ---------------------------------------------------------------------------------------------
// Normalized shapes: produced by validate(), consumed by the engine.

// The parts every rule family shares (a leaf, so the families' modules need not import this file).
export type { NormalizedAddress, NormalizedWhen, SocketFamily } from './rule-parts.js'
import type { NormalizedAddress, NormalizedWhen, SocketFamily } from './rule-parts.js'
import type { PinnableMechanism } from './mechanisms.js'

export interface NormalizedSyscallMatch {
  port?: number
  address?: NormalizedAddress
  family?: SocketFamily
  path?: string
  fd?: string
  flags?: string[]
}

export interface NormalizedSyscallRule {
  name: string
  /** Canonical syscall name (aliases resolved, e.g. 'sendto' stays 'sendto'). */
  syscall: string
  /** Negative value the call returns, e.g. -111. */
  ret: number
  /** errno name when the value is a known errno, for messages and stats. */
  errnoName: string | undefined
  match: NormalizedSyscallMatch
  when: NormalizedWhen
  /** Where in the input this rule came from, e.g. 'syscalls[2]', for error messages. */
  path: string
  /** Only processes with one of these comms (a subset of target.comm); set by Minderbinder
   * configs, whose rules each name their own processes. Undefined = every target. */
  comm?: string[]
  /** A pinned mechanism; undefined = the best available. */
  mechanism?: PinnableMechanism
  /** A delay rule (config/delay.ts): the call is not failed (ret is 0) but returns this much later. */
  delay?: NormalizedDelay
  /** Corrupt what the call read instead of failing it (ret is 0): config/corrupt.ts. */
  corrupt?: NormalizedCorrupt
}

export interface NormalizedDelay {
  ms: number
  /** 0 = none; else the pause is uniform in [ms - jitterMs, ms + jitterMs]. */
  jitterMs: number
}

export type { NormalizedNetworkRule } from './network.js'
export type { NormalizedCorrupt } from './corrupt.js'
import type { NormalizedCorrupt } from './corrupt.js'
import type { NormalizedNetworkRule } from './network.js'
export type { NormalizedDnsRule } from './dns.js'
import type { NormalizedDnsRule } from './dns.js'

export interface NormalizedTarget {
  scope: 'tree' | 'children' | 'system'
  comm: string[]
}

export interface FailureConfig {
  target: NormalizedTarget
  syscalls: NormalizedSyscallRule[]
  network: NormalizedNetworkRule[]
  /** DNS failures by name (config/dns.ts). */
  dns: NormalizedDnsRule[]
  /** Advice about rules that could disturb the test runner itself; never fatal. */
  warnings: string[]
}
