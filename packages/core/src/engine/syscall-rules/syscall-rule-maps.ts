/**
 * The entries of config.syscalls's rules in the maps every object shares (bpf/include/maps.h):
 * fl_rules, fl_counters and fl_globs, indexed by the rule's place in config.syscalls. The session
 * writes them for every family at once, in its step that writes fl_state.
 */
import type { FailureConfig } from '../../config/types.js'
import { OPEN_FLAG_BITS } from '../../kernel/open-flags.js'
import { commBits, commMask } from '../comms.js'
import type { Instance } from '../instance.js'
import { SIZEOF, encodeGlob, encodeRule, u32Key } from '../shared-layout.js'
import type { SyscallRuleEntry } from '../family.js'

/** What fl_state (bpf/include/faultline.h) needs of the rules, which process tracking and every syscall program read first. */
export interface RuleMapsState {
  /** fl_state.n_rules: entries [0, n) of fl_rules are live. */
  nRules: number
  /** Some rule matches on a path (FL_STATE_NEED_PATH): the hooks fetch the call's path. */
  needPath: boolean
}

/**
 * Writes every rule, each at its index, with zeroed counters; the session's step writes fl_state
 * after it. `rules` are every family's: together, each index of config.syscalls once.
 */
export function writeSyscallRules(inst: Instance, config: FailureConfig, rules: readonly SyscallRuleEntry[]): RuleMapsState {
  const { maps } = inst
  const sorted = [...rules].sort((a, b) => a.index - b.index)
  // fl_state.n_rules makes [0, n) live: a gap or a twice-planned index would fire a stale or wrong entry.
  if (sorted.some((p, i) => p.index !== i) || sorted.length !== config.syscalls.length) {
    throw new Error(`faultline: the families planned syscall rules ${sorted.map((p) => p.index).join(',')} of ${config.syscalls.length}`)
  }
  const zero = Buffer.alloc(SIZEOF.fl_counters)
  const afterFromExec = config.target.comm.length > 0
  // Each comm gets a bit; a rule naming its own processes (Minderbinder) gets their mask (engine/comms.ts).
  const commBit = commBits(config)
  let needPath = false
  for (const { index, rule, op } of sorted) {
    const openFlags = (rule.match.flags ?? []).reduce((m, f) => m | ((OPEN_FLAG_BITS as Record<string, number>)[f] ?? 0), 0)
    const glob = rule.match.path ?? rule.match.fd
    if (glob) {
      needPath = true
      maps.fl_globs.update(u32Key(index), encodeGlob(glob))
    }
    maps.fl_counters.update(u32Key(index), zero)
    maps.fl_rules.update(u32Key(index), encodeRule(rule, { op, afterFromExec, commMask: commMask(rule.comm, commBit), openFlags }))
  }
  return { nRules: sorted.length, needPath }
}

/** Zeroes the first `nRules` entries, so a failed arming leaves no trace. */
export function clearSyscallRules(inst: Instance, nRules: number): void {
  const { maps } = inst
  for (const m of [maps.fl_rules, maps.fl_counters, maps.fl_globs]) {
    for (let i = 0; i < nRules; i++) m.update(u32Key(i), Buffer.alloc(m.valueSize))
  }
}
