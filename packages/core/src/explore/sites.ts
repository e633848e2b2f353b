/**
 * Planning an exploration by call site (`--by site`): the census logged, per eligible call, the
 * user stack it came from (engine/call-sites/); a run fails only the first call of each distinct
 * stack, so a loop of a thousand identical calls costs one run. Stacks are compared within the
 * census only (addresses move from run to run under ASLR), and a call whose stack the kernel could
 * not take, or that was not logged, is a site of its own: explored by k, never silently skipped.
 * So is every call of an interpreter or a JIT runtime (Python, Node, ...): its native stack is the
 * interpreter's, the same for different lines of the script, and would merge sites that differ.
 */
import type { SiteCall, SiteLog } from '../engine/call-sites/call-site-recorder.js'
import type { CallSite, PlannedRun } from './types.js'
import { isNetworkRule, planRuns, type ExplorableRule } from './plan.js'

export interface SitePlan {
  runs: PlannedRun[]
  skipped: number
  /** Rules explored by k, and why. */
  byCall: Record<string, string>
}

const hex = (ip: bigint) => `0x${ip.toString(16)}`

/** Processes whose native stack does not show their program's call sites (by comm, as the kernel names them). */
export const INTERPRETER_COMM = /^(python|pypy|node|nodejs|deno|bun|ruby|perl|php|java|lua|luajit|beam\.smp|erl|dotnet|mono|Rscript|R)([0-9.]*)$/

/** Calls with equal keys come from one site: the scanned return addresses and the unwound stack
 * agree. A call without at least two scanned return addresses (not logged, or too little the kernel
 * could read) is a site of its own. */
function siteKey(call: SiteCall | undefined, nth: number): string {
  // Fewer than two return addresses cannot tell the wrapper's callers apart: no site.
  if (!call || call.rets.length < 2 || INTERPRETER_COMM.test(call.comm)) return `call ${nth}`
  return `${call.rets.join(',')} / ${call.stackId < 0 ? '-' : call.frames.join(',')}`
}

/** The first call of each distinct site of one rule, for `count` census calls of which `logged` have stacks. */
export function ruleSites(rule: string, count: number, logged: readonly SiteCall[]): PlannedRun[] {
  const byNth = new Map(logged.map((c) => [c.nth, c]))
  const groups = new Map<string, { first: number; calls: number; frames: bigint[] }>()
  for (let nth = 1; nth <= count; nth++) {
    const call = byNth.get(nth)
    const g = groups.get(siteKey(call, nth))
    if (g) g.calls++
    else groups.set(siteKey(call, nth), { first: nth, calls: 1, frames: call ? [...call.rets, ...call.frames] : [] })
  }
  return [...groups.values()].map((g, i): PlannedRun => {
    const site: CallSite = { index: i + 1, calls: g.calls, frames: g.frames.map(hex) }
    return { rule, nth: g.first, site }
  })
}

/**
 * One run per distinct site of each rule, rule by rule in config order, at most maxRuns in all.
 * A rule with no entry in `sites` is a network rule: packets have no call site, so it is explored
 * connection by connection, as without --by site.
 */
export function planSiteRuns(rules: readonly string[], census: Record<string, number>, sites: ReadonlyMap<string, SiteCall[]>, maxRuns: number): SitePlan {
  const byCall: Record<string, string> = {}
  const all = rules.flatMap((rule): PlannedRun[] => {
    const count = census[rule] ?? 0
    const logged = sites.get(rule)
    if (!logged) {
      if (count) byCall[rule] = 'a network rule acts on packets, which have no call site: explored connection by connection'
      return Array.from({ length: count }, (_, i) => ({ rule, nth: i + 1 }))
    }
    const interpreters = [...new Set(logged.map((c) => c.comm).filter((c) => INTERPRETER_COMM.test(c)))]
    if (count && !logged.length) byCall[rule] = 'no call site was logged for its calls (not a syscall made by a target thread)'
    else if (interpreters.length) byCall[rule] = `its calls come from ${interpreters.join(', ')}, whose native stack is the interpreter's and does not show the script's call sites`
    return ruleSites(rule, count, logged)
  })
  return { runs: all.slice(0, maxRuns), skipped: Math.max(0, all.length - maxRuns), byCall }
}

/** The census's site log by syscall rule name; the log is keyed by rule index = the rule's index
 * among the census config's syscall rules, `syscallNames` in that order. */
export function sitesByName(syscallNames: readonly string[], log: SiteLog | undefined): Map<string, SiteCall[]> {
  return new Map(syscallNames.map((n, i) => [n, log?.get(i) ?? []]))
}

/** The runs of an exploration of `rules` by call (every k) or by site, from the census's counts and site log. */
export function planExploreRuns(rules: readonly ExplorableRule[], census: Record<string, number>, by: 'call' | 'site', log: SiteLog | undefined, maxRuns: number): SitePlan {
  const names = rules.map((r) => r.name)
  if (by === 'call') return { ...planRuns(names, census, maxRuns), byCall: {} }
  return planSiteRuns(names, census, sitesByName(rules.filter((r) => !isNetworkRule(r)).map((r) => r.name), log), maxRuns)
}
