/**
 * The `dns` section: the targets' DNS queries for chosen names fail (NXDOMAIN, SERVFAIL) or go
 * unanswered (timeout). Validated like the other rules: every problem at once, each naming its field.
 */
import { describe, MAX_COUNT } from './describe.js'
import type { ConfigIssue } from './errors.js'
import type { NormalizedWhen } from './rule-parts.js'
import { parseDuration } from './duration.js'
import { didYouMean } from './suggest.js'

export const DNS_ANSWERS = ['nxdomain', 'servfail', 'timeout'] as const
export type DnsAnswer = (typeof DNS_ANSWERS)[number]
export const DNS_KEYS = ['name', 'answer', 'when']
export const DNS_WHEN_KEYS = ['after', 'times', 'probability', 'seed']
/** bpf/include/dns.h: FL_MAX_DNS_RULES rules, a name of at most 253 characters (FL_DNS_NAME_LEN with its NUL). */
export const FL_MAX_DNS_RULES = 16
export const DNS_NAME_MAX = 253

export interface NormalizedDnsRule {
  /** The glob on the question name, as written (the rule's name in counters and reports). */
  name: string
  /** Lower case, without a trailing dot: what the TC program compares against. */
  pattern: string
  answer: DnsAnswer
  when: NormalizedWhen
  path: string
}

/** Why `name` is not a DNS name glob (labels of 1..63 letters, digits, '-', '_', '*', '?'), or undefined. */
export function dnsNameProblem(name: string): string | undefined {
  const text = name.endsWith('.') && name.length > 1 ? name.slice(0, -1) : name
  if (!text) return 'must be a DNS name such as "api.example.com" or a glob such as "*.example.com"'
  if (text.length > DNS_NAME_MAX) return `${describe(name)} is longer than ${DNS_NAME_MAX} characters, the longest DNS name`
  const label = text.split('.').find((l) => !/^[a-zA-Z0-9_*?-]{1,63}$/.test(l))
  if (label !== undefined) {
    return `${JSON.stringify(name)} is not a DNS name glob: label ${JSON.stringify(label)} must be 1..63 letters, digits, "-", "_", or the wildcards "*" (any run of characters, dots included) and "?" (one character)`
  }
  return undefined
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

export function validateDnsRules(raw: unknown[], issues: ConfigIssue[]): NormalizedDnsRule[] {
  const out: NormalizedDnsRule[] = []
  const names = new Set<string>()
  raw.forEach((r, i) => {
    const path = `dns[${i}]`
    const add = (field: string, message: string) => issues.push({ path: field ? `${path}.${field}` : path, message })
    if (!isObj(r)) return add('', `must be a rule object { name, answer, when? }, got ${describe(r)}`)
    const before = issues.length
    for (const k of Object.keys(r)) if (!DNS_KEYS.includes(k)) add(k, `unknown key${didYouMean(k, DNS_KEYS)} (allowed: ${DNS_KEYS.join(', ')})`)
    if (typeof r.name !== 'string') add('name', `must be a DNS name or glob such as "api.example.com" or "*.example.com", got ${describe(r.name)}`)
    else {
      const bad = dnsNameProblem(r.name)
      if (bad) add('name', bad)
      else if (names.has(r.name)) add('name', `"${r.name}" is used twice; rule names must be unique`)
      else names.add(r.name)
    }
    if (!DNS_ANSWERS.includes(r.answer as DnsAnswer)) add('answer', `${describe(r.answer)} is not an answer; allowed: ${DNS_ANSWERS.join(', ')}`)
    const when: NormalizedWhen = { afterMs: 0, nth: 0, times: 0, probability: 1, seed: undefined }
    if (r.when !== undefined) {
      if (!isObj(r.when)) add('when', `must be an object with ${DNS_WHEN_KEYS.join(', ')}, got ${describe(r.when)}`)
      else {
        const w = r.when
        for (const k of Object.keys(w)) if (!DNS_WHEN_KEYS.includes(k)) add(`when.${k}`, `unknown key${didYouMean(k, DNS_WHEN_KEYS)} (allowed: ${DNS_WHEN_KEYS.join(', ')})`)
        if (w.after !== undefined) {
          const d = parseDuration(w.after)
          if (typeof d === 'string') add('when.after', d)
          else when.afterMs = d
        }
        if (w.times !== undefined) {
          if (typeof w.times === 'number' && Number.isInteger(w.times) && w.times > 0 && w.times <= MAX_COUNT) when.times = w.times
          else add('when.times', `must be a positive integer up to ${MAX_COUNT}, got ${describe(w.times)}`)
        }
        if (w.probability !== undefined) {
          if (typeof w.probability === 'number' && w.probability >= 0 && w.probability <= 1) when.probability = w.probability
          else add('when.probability', `must be a number from 0 to 1 (0.3 = 30 %), got ${describe(w.probability)}`)
        }
        if (w.seed !== undefined) {
          if (w.probability === undefined) add('when.seed', 'has nothing to seed without probability')
          else if (typeof w.seed === 'number' && Number.isSafeInteger(w.seed) && w.seed >= 0) when.seed = w.seed
          else add('when.seed', `must be a non-negative integer, got ${describe(w.seed)}`)
        }
      }
    }
    if (issues.length > before) return
    const name = r.name as string
    const pattern = (name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase()
    out.push({ name, pattern, answer: r.answer as DnsAnswer, when, path })
  })
  return out
}
