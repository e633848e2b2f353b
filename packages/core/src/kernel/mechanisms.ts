/**
 * Which kernel mechanism serves a syscall rule, best first, and why none can when none can.
 * The engine arms what this picks; `doctor` and refusal messages read the same table.
 *
 * Preference, per rule:
 *   socket calls (connect, bind, sendmsg/sendto, socket, get/setsockopt)  -> cgroup hooks
 *   match.fd (the file behind an fd)            -> an LSM file hook (lsm, then security-fmod-ret)
 *   match.path on an open call                  -> an LSM file hook first (the path is resolved),
 *                                                  then the syscall entry (the path as passed)
 *   anything else                               -> the syscall entry (fmod-ret-syscall, then
 *                                                  kprobe-override), then the LSM hook it passes
 *   corrupt (read, pread64, readv)              -> fexit-corrupt, which serves nothing else
 * A rule may name its mechanism (`mechanism: 'lsm'`) to pin it.
 * A `delay` rule is served by `send-signal` only (tp_btf sys_exit + SIGSTOP; engine/delay/delay-family.ts),
 * and no errno rule is.
 */
import fs from 'node:fs'
import type { NormalizedSyscallRule } from '../config/types.js'
import { FL_OP, FL_OP_CORRUPT_BASE, FL_OP_DELAY_BASE, FL_OP_SYS_BASE, type FlOpName } from '../bpf-limits.js'
import { CORRUPT_SYSCALLS } from '../config/corrupt.js'
import { MECHANISM_NAMES, type Mechanism } from '../config/mechanisms.js'
import { currentArch, syscallTable, type Arch } from '../config/syscalls.js'
import { probeFeature, syscallPrefix, type Feature } from './features.js'
import { LSM_HOOKS } from './lsm-hooks.js'
import { kernelBtfHasFunc } from '../libbpf/index.js'

export { MECHANISM_NAMES, type Mechanism }

export interface MechanismInfo {
  mechanism: Mechanism
  /** Kernel features it needs, all of them. */
  needs: Feature[]
  describe: string
}

export const MECHANISM_INFO: Record<Mechanism, MechanismInfo> = {
  cgroup: { mechanism: 'cgroup', needs: ['tp_btf', 'cgroup-sockaddr'], describe: 'cgroup socket hooks + bpf_set_retval' },
  'fmod-ret-syscall': { mechanism: 'fmod-ret-syscall', needs: ['tp_btf', 'fmod-ret-syscall'], describe: 'fmod_ret on the syscall entry' },
  'kprobe-override': { mechanism: 'kprobe-override', needs: ['tp_btf', 'kprobe-override'], describe: 'kprobe + bpf_override_return on the syscall entry' },
  lsm: { mechanism: 'lsm', needs: ['tp_btf', 'lsm'], describe: 'BPF LSM programs on the LSM hook the syscall passes' },
  'security-fmod-ret': { mechanism: 'security-fmod-ret', needs: ['tp_btf', 'security-fmod-ret'], describe: 'fmod_ret on the security_* hook the syscall passes' },
  'send-signal': { mechanism: 'send-signal', needs: ['tp_btf', 'send-signal'], describe: 'delay rules: SIGSTOP at sys_exit, SIGCONT from the resumer after the delay' },
  'fexit-corrupt': {
    mechanism: 'fexit-corrupt',
    needs: ['tp_btf', 'fexit', 'probe-write-user'],
    describe: 'corrupts what reads return (corrupt rules): fexit on the read syscalls + bpf_probe_write_user',
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

const OPEN_CALLS = ['open', 'openat', 'openat2', 'creat']

export type MechanismChoice = { ok: true; mechanism: Mechanism; op: number } | { ok: false; reason: string }

let entrySymbols: Set<string> | undefined

/** Syscall entry functions of this kernel (from /proc/kallsyms; empty if unreadable). */
function hasEntrySymbol(syscall: string): boolean {
  if (!entrySymbols) {
    entrySymbols = new Set()
    try {
      const prefix = syscallPrefix()
      for (const line of fs.readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
        const name = line.slice(line.lastIndexOf(' ') + 1)
        if (name.startsWith(prefix)) entrySymbols.add(name.slice(prefix.length))
      }
    } catch {
      /* no kallsyms: attach will say */
    }
  }
  return entrySymbols.size === 0 || entrySymbols.has(syscall)
}

/** Why `mechanism` cannot serve `rule` here, or undefined when it can. */
function unavailable(mechanism: Mechanism, rule: NormalizedSyscallRule): string | undefined {
  const s = rule.syscall
  if ((mechanism === 'send-signal') !== (rule.delay !== undefined)) {
    return mechanism === 'send-signal' ? 'serves delay rules only' : 'a delay rule is served by send-signal only'
  }
  // Corrupting is not failing: fexit-corrupt serves corrupt rules and nothing else does.
  if (rule.corrupt && mechanism !== 'fexit-corrupt') return 'cannot corrupt what a call reads (only fexit-corrupt can)'
  switch (mechanism) {
    case 'fexit-corrupt':
      if (!rule.corrupt) return 'serves corrupt rules only'
      if (!CORRUPT_SYSCALLS.includes(s)) return `corrupts ${CORRUPT_SYSCALLS.join(', ')} only`
      if (!hasEntrySymbol(s) || kernelBtfHasFunc(`${syscallPrefix()}${s}`) === false) return `fexit needs ${syscallPrefix()}${s} with a BTF entry, which this kernel lacks`
      break
    case 'cgroup':
      if (!CGROUP_SYSCALL_OPS[s]) return `cgroup hooks only see ${Object.keys(CGROUP_SYSCALL_OPS).join(', ')}`
      break
    case 'fmod-ret-syscall':
    case 'kprobe-override':
      if (rule.match.fd) return 'match.fd needs an LSM file hook (the entry only sees the fd number)'
      if (!hasEntrySymbol(s)) return `this kernel has no ${syscallPrefix()}${s}`
      if (mechanism === 'fmod-ret-syscall' && kernelBtfHasFunc(`${syscallPrefix()}${s}`) === false) {
        return `${syscallPrefix()}${s} has no BTF entry, which fmod_ret needs (SYSCALL_DEFINE0 wrappers often lack one)`
      }
      if (CGROUP_SYSCALL_OPS[s] && (rule.match.port !== undefined || rule.match.address || rule.match.family)) return 'address filters are served by cgroup hooks'
      break
    case 'lsm':
    case 'security-fmod-ret': {
      const hook = LSM_HOOKS[s]
      if (!hook) return `${s} passes no LSM hook faultline uses (${[...new Set(Object.keys(LSM_HOOKS))].slice(0, 12).join(', ')}, ...)`
      if (rule.match.fd && !hook.resolved.includes(mechanism)) {
        return `match.fd needs the file's path, which ${mechanism === 'lsm' ? `lsm/${hook.hook}` : `security_${hook.hook}`} cannot resolve`
      }
      break
    }
  }
  const missing = MECHANISM_INFO[mechanism].needs.map(probeFeature).filter((r) => !r.available)
  // The caller names the mechanism; a feature of the same name is not named twice ("lsm: lsm: EPERM").
  if (missing.length) return missing.map((m) => (m.feature === mechanism ? m.reason : `${m.feature}: ${m.reason}`)).join('; ')
  return undefined
}

function preference(rule: NormalizedSyscallRule): Mechanism[] {
  if (rule.delay) return ['send-signal']
  if (rule.corrupt) return ['fexit-corrupt']
  if (CGROUP_SYSCALL_OPS[rule.syscall]) return ['cgroup']
  const lsm: Mechanism[] = ['lsm', 'security-fmod-ret']
  const entry: Mechanism[] = ['fmod-ret-syscall', 'kprobe-override']
  if (rule.match.fd) return lsm
  if (rule.match.path && OPEN_CALLS.includes(rule.syscall)) return [...lsm, ...entry]
  return [...entry, ...lsm]
}

/** The op the BPF side sees for `rule` under `mechanism`. */
function opFor(mechanism: Mechanism, syscall: string): number {
  if (mechanism === 'cgroup') return FL_OP[CGROUP_SYSCALL_OPS[syscall]!]
  if (mechanism === 'send-signal') return FL_OP_DELAY_BASE + (syscallTable()[syscall] ?? 0)
  if (mechanism === 'fexit-corrupt') return FL_OP_CORRUPT_BASE + (syscallTable()[syscall] ?? 0)
  return FL_OP_SYS_BASE + (syscallTable()[syscall] ?? 0)
}

export function chooseMechanism(rule: NormalizedSyscallRule): MechanismChoice {
  const candidates = rule.mechanism ? [rule.mechanism] : preference(rule)
  const reasons: string[] = []
  for (const m of candidates) {
    const why = unavailable(m, rule)
    if (!why) return { ok: true, mechanism: m, op: opFor(m, rule.syscall) }
    reasons.push(`${m}: ${why}`)
  }
  const others = rule.delay ? [] : MECHANISM_NAMES.filter((m) => !candidates.includes(m) && !unavailable(m, { ...rule, match: {} }))
  if (rule.corrupt) {
    return { ok: false, reason: `cannot corrupt ${rule.syscall} on this kernel (${reasons.join('; ')})` }
  }
  return {
    ok: false,
    reason:
      `no mechanism on this kernel can ${rule.delay ? 'delay' : 'fail'} ${rule.syscall}${rule.mechanism ? ` with mechanism ${rule.mechanism}` : ''} (${reasons.join('; ')})` +
      (others.length ? `; other mechanisms that could fail ${rule.syscall} here (without this rule's filters or pin): ${others.join(', ')}` : ''),
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

/** For `doctor`: each mechanism, whether this kernel has it, and what it can fail (the syscalls
 * of this architecture: arm64 has no open, unlink, rename...). */
export function mechanismCoverage(arch: Arch = currentArch()): MechanismCoverage[] {
  const here = syscallTable(arch)
  const ofThisArch = (names: string[]) => names.filter((n) => Object.hasOwn(here, n))
  return (Object.values(MECHANISM_INFO) as MechanismInfo[]).map((m) => {
    const missing = m.needs.map(probeFeature).filter((r) => !r.available)
    return {
      mechanism: m.mechanism,
      describe: m.describe,
      available: missing.length === 0,
      reason: missing.map((r) => `${r.feature}: ${r.reason}`).join('; '),
      syscalls:
        m.mechanism === 'cgroup' ? ofThisArch(Object.keys(CGROUP_SYSCALL_OPS)) : m.mechanism === 'fexit-corrupt' ? ofThisArch([...CORRUPT_SYSCALLS]) : m.mechanism === 'lsm' || m.mechanism === 'security-fmod-ret' ? ofThisArch(Object.keys(LSM_HOOKS)) : 'any',
    }
  })
}
