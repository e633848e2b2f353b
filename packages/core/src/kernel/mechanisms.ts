/**
 * Which kernel mechanism serves a syscall rule, best first, and why none can when none can.
 * The engine arms what this picks; `doctor` and refusal messages read the same table.
 */
import type { NormalizedSyscallRule } from '../config/types.js'
import { FL_OP, type FlOpName } from '../engine/layout.js'
import { probeFeature, type Feature } from './features.js'

export type Mechanism = 'cgroup'

export interface MechanismInfo {
  mechanism: Mechanism
  /** Kernel features it needs, all of them. */
  needs: Feature[]
  describe: string
}

export const MECHANISMS: Record<Mechanism, MechanismInfo> = {
  cgroup: {
    mechanism: 'cgroup',
    needs: ['tp_btf', 'cgroup-sockaddr'],
    describe: 'cgroup socket hooks + bpf_set_retval',
  },
}

/** Syscalls the cgroup hooks intercept, and the hook operation each maps to. */
export const CGROUP_SYSCALL_OPS: Record<string, FlOpName> = {
  connect: 'connect',
  bind: 'bind',
  sendmsg: 'sendmsg',
  sendto: 'sendmsg',
  socket: 'socket',
  getsockopt: 'getsockopt',
  setsockopt: 'setsockopt',
}

export type MechanismChoice =
  | { ok: true; mechanism: Mechanism; op: number }
  | { ok: false; reason: string }

export function chooseMechanism(rule: NormalizedSyscallRule): MechanismChoice {
  const op = CGROUP_SYSCALL_OPS[rule.syscall]
  if (op) {
    const missing = MECHANISMS.cgroup.needs.map(probeFeature).filter((r) => !r.available)
    if (missing.length === 0) return { ok: true, mechanism: 'cgroup', op: FL_OP[op] }
    return {
      ok: false,
      reason: `${MECHANISMS.cgroup.describe} would serve it, but ${missing.map((m) => `${m.feature} is unavailable (${m.reason})`).join('; ')}`,
    }
  }
  return {
    ok: false,
    reason:
      `this version fails only socket calls (${Object.keys(CGROUP_SYSCALL_OPS).join(', ')}) through cgroup hooks; ` +
      `${rule.syscall} needs fmod_ret or kprobe override on the syscall entry, or an LSM hook (not built yet)`,
  }
}

export interface MechanismCoverage {
  mechanism: Mechanism
  describe: string
  available: boolean
  /** Why not, when unavailable. */
  reason: string
  /** The syscalls it can fail, or 'any' for syscall-entry mechanisms. */
  syscalls: string[] | 'any'
}

/** For `doctor`: each mechanism, whether this kernel has it, and what it can fail. */
export function mechanismCoverage(): MechanismCoverage[] {
  return (Object.values(MECHANISMS) as MechanismInfo[]).map((m) => {
    const missing = m.needs.map(probeFeature).filter((r) => !r.available)
    return {
      mechanism: m.mechanism,
      describe: m.describe,
      available: missing.length === 0,
      reason: missing.map((r) => `${r.feature}: ${r.reason}`).join('; '),
      syscalls: m.mechanism === 'cgroup' ? Object.keys(CGROUP_SYSCALL_OPS) : 'any',
    }
  })
}
