/**
 * Planning an exploration: the census config (every rule counting, none failing: probability 0
 * counts `eligible` calls and fires none), one config per (rule, k) with `when: { nth: k }`, and
 * the classification of a run's end. Configs are built as input (what a user writes), so the config
 * armed for a run is the one printed to reproduce it. A network rule's k is its k-th matching
 * connection (its `eligible` counts flows: bpf/include/flows.h).
 */
import type { FailureConfig, FailureConfigInput, NormalizedNetworkRule, NormalizedSyscallRule, SyscallRuleInput, TargetInput } from '../config/types.js'
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

/** A rule explore can fail one k at a time: a syscall rule, or a network rule (its k-th connection). */
export type ExplorableRule = NormalizedSyscallRule | NormalizedNetworkRule
export const isNetworkRule = (r: ExplorableRule): r is NormalizedNetworkRule => 'action' in r

/** A validated network rule back in the shape a user writes, without `when` (and without `comm`,
 * which goes to the target as a syscall rule's does). */
export function networkRuleInput(r: NormalizedNetworkRule): Record<string, unknown> {
  const out: Record<string, unknown> = { name: r.name, action: r.action }
  if (r.direction !== (r.action === 'reset' ? 'both' : 'egress')) out.direction = r.direction
  if (r.protocol && !(r.action === 'reset' && r.protocol === 'tcp')) out.protocol = r.protocol
  if (r.ports.length === 1) out.port = r.ports[0]
  else if (r.ports.length) out.ports = [...r.ports]
  const hosts = [...r.hosts.map((a) => a.text), ...r.hostnames]
  if (hosts.length) out.hosts = hosts
  if (r.allow.length) out.allow = r.allow.map((a) => a.text)
  if (r.interface) out.interface = r.interface.length === 1 ? r.interface[0] : [...r.interface]
  if (r.mechanism) out.mechanism = r.mechanism
  if (r.stolen) out.stolen = true
  if (r.action === 'delay') {
    out.delay = r.delayMs
    if (r.jitterMs) out.jitter = r.jitterMs
  }
  if (r.rateBps) out.rate = `${r.rateBps}bit`
  if (r.afterBytes) out.after_bytes = r.afterBytes
  return out
}

/** A network rule counting its connections, acting on none: a drop rule with the same filters
 * and probability 0 (a reset rule takes no probability; flows are counted alike for every action,
 * and no shaping qdisc is set up for a count). */
function networkCensusRule(r: NormalizedNetworkRule): Record<string, unknown> {
  const { name, hosts, allow, port, ports, interface: iface, mechanism } = networkRuleInput(r)
  const filters = Object.fromEntries(Object.entries({ port, ports, hosts, allow, interface: iface, mechanism }).filter(([, v]) => v !== undefined))
  return { name, action: 'drop', direction: r.direction, ...(r.protocol ? { protocol: r.protocol } : {}), ...filters, when: { ...after(r), probability: 0 } }
}

function targetInput(config: FailureConfig, rule: ExplorableRule): TargetInput {
  const comm = rule.comm ?? config.target.comm
  return comm.length ? { scope: config.target.scope, comm: [...comm] } : { scope: config.target.scope }
}

const after = (r: ExplorableRule) => (r.when.afterMs ? { after: r.when.afterMs } : {})

/** Every rule counting its matching calls (a network rule: connections), none failing. A Minderbinder
 * rule's own comm list is not expressible in this shape: its census counts every target process. */
export function censusConfig(config: FailureConfig, rules: readonly ExplorableRule[] = [...config.syscalls, ...config.network]): FailureConfigInput {
  const { scope, comm } = config.target
  const syscalls = rules.filter((r) => !isNetworkRule(r)).map((r) => ({ ...ruleInput(r as NormalizedSyscallRule), when: { ...after(r), probability: 0 } }))
  const network = rules.filter(isNetworkRule).map(networkCensusRule)
  return { target: comm.length ? { scope, comm: [...comm] } : { scope }, ...(syscalls.length || !network.length ? { syscalls } : {}), ...(network.length ? { network } : {}) }
}

/** Only `rule` armed, failing its nth matching call (a network rule: acting on its nth connection). */
export function runConfig(config: FailureConfig, rule: ExplorableRule, nth: number): FailureConfigInput {
  const when = { ...after(rule), nth }
  if (isNetworkRule(rule)) return { target: targetInput(config, rule), network: [{ ...networkRuleInput(rule), when }] }
  return { target: targetInput(config, rule), syscalls: [{ ...ruleInput(rule), when }] }
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
