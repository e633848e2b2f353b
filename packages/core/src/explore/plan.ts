/**
 * Planning an exploration: the census config (every rule counting, none failing: probability 0
 * counts `eligible` calls and fires none), one config per (rule, k) with `when: { nth: k }`, and
 * the classification of a run's end. Configs are built as input (what a user writes), so the config
 * armed for a run is the one printed to reproduce it.
 */
import type { FailureConfig, FailureConfigInput, NormalizedSyscallRule, SyscallRuleInput, TargetInput } from '../config/types.js'
import type { ExploreOutcome, PlannedRun } from './types.js'

/** A validated syscall rule back in the shape a user writes, without `when`. */
export function ruleInput(r: NormalizedSyscallRule): SyscallRuleInput {
  const out: SyscallRuleInput = { name: r.name, syscall: r.syscall }
  if (r.delay) {
    out.delay = r.delay.ms
    if (r.delay.jitterMs) out.jitter = r.delay.jitterMs
  } else if (r.corrupt) out.corrupt = { bytes: r.corrupt.bytes, seed: r.corrupt.seed }
  else if (r.errnoName) out.errno = r.errnoName
  else out.ret = r.ret
  const m = r.match
  const match: NonNullable<SyscallRuleInput['match']> = {}
  if (m.port !== undefined) match.port = m.port
  if (m.address) match.address = m.address.text
  if (m.family) match.family = m.family
  if (m.path !== undefined) match.path = m.path
  if (m.fd !== undefined) match.fd = m.fd
  if (m.flags?.length) match.flags = [...m.flags]
  if (Object.keys(match).length) out.match = match
  if (r.mechanism) out.mechanism = r.mechanism
  return out
}

function targetInput(config: FailureConfig, rule: NormalizedSyscallRule): TargetInput {
  const comm = rule.comm ?? config.target.comm
  return comm.length ? { scope: config.target.scope, comm: [...comm] } : { scope: config.target.scope }
}

const after = (r: NormalizedSyscallRule) => (r.when.afterMs ? { after: r.when.afterMs } : {})

/** Every syscall rule counting its matching calls, none failing. A Minderbinder rule's own comm list
 * is not expressible in this shape: its census counts every target process. */
export function censusConfig(config: FailureConfig, rules: readonly NormalizedSyscallRule[] = config.syscalls): FailureConfigInput {
  const { scope, comm } = config.target
  return { target: comm.length ? { scope, comm: [...comm] } : { scope }, syscalls: rules.map((r) => ({ ...ruleInput(r), when: { ...after(r), probability: 0 } })) }
}

/** Only `rule` armed, failing its nth matching call. */
export function runConfig(config: FailureConfig, rule: NormalizedSyscallRule, nth: number): FailureConfigInput {
  return { target: targetInput(config, rule), syscalls: [{ ...ruleInput(rule), when: { ...after(rule), nth } }] }
}

/** (rule, k) for k in 1..census, rule by rule in config order, at most maxRuns of them. */
export function planRuns(rules: readonly string[], census: Record<string, number>, maxRuns: number): { runs: PlannedRun[]; skipped: number } {
  const all = rules.flatMap((rule) => Array.from({ length: census[rule] ?? 0 }, (_, i) => ({ rule, nth: i + 1 })))
  return { runs: all.slice(0, maxRuns), skipped: Math.max(0, all.length - maxRuns) }
}

/** A command's end: exit 0 handled, a code failed, a signal crashed; not-reached when nothing fired. */
export function classify(end: { code: number | null; signal: string | null; timedOut: boolean; fired: number }): ExploreOutcome {
  if (end.timedOut) return 'hung'
  if (end.fired === 0) return 'not-reached'
  if (end.signal) return 'crashed'
  return end.code === 0 ? 'handled' : 'failed'
}
