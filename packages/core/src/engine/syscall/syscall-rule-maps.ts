/**
 * The syscall rules' entries of the maps every object shares (bpf/include/maps.h): fl_rules,
 * fl_counters and fl_globs, indexed by the rule's place in config.syscalls.
 */
import type { FailureConfig } from '../../config/types.js'
import { OPEN_FLAG_BITS } from '../../kernel/open-flags.js'
import { commBits, commMask } from '../comms.js'
import type { Instance } from '../instance.js'
import type { RuleMapsState } from '../family.js'
import { SIZEOF, encodeGlob, encodeRule, u32Key } from '../layout.js'
import type { PlannedRule } from './backend.js'

/** Writes every planned rule with zeroed counters; the session's step writes fl_state after it. */
export function writeSyscallRules(inst: Instance, config: FailureConfig, planned: PlannedRule[]): RuleMapsState {
  const { maps } = inst
  const zero = Buffer.alloc(SIZEOF.fl_counters)
  const afterFromExec = config.target.comm.length > 0
  // Each comm gets a bit; a rule naming its own processes (Minderbinder) gets their mask (engine/comms.ts).
  const commBit = commBits(config)
  let needPath = false
  planned.forEach(({ rule, op }, i) => {
    const openFlags = (rule.match.flags ?? []).reduce((m, f) => m | ((OPEN_FLAG_BITS as Record<string, number>)[f] ?? 0), 0)
    const glob = rule.match.path ?? rule.match.fd
    if (glob) {
      needPath = true
      maps.fl_globs.update(u32Key(i), encodeGlob(glob))
    }
    maps.fl_counters.update(u32Key(i), zero)
    maps.fl_rules.update(u32Key(i), encodeRule(rule, { op, afterFromExec, commMask: commMask(rule.comm, commBit), openFlags }))
  })
  return { nRules: planned.length, needPath }
}

/** Zeroes the first `nRules` entries, so a failed arming leaves no trace. */
export function clearSyscallRules(inst: Instance, nRules: number): void {
  const { maps } = inst
  for (const m of [maps.fl_rules, maps.fl_counters, maps.fl_globs]) {
    for (let i = 0; i < nRules; i++) m.update(u32Key(i), Buffer.alloc(m.valueSize))
  }
}
