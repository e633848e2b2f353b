/**
 * The DNS kind's maps (dns-kind.ts): the TypeScript mirror of bpf/include/dns.h (sizes checked
 * by test/unit/layout.test.ts), and how its rules are written, cleared and counted.
 */
import type { NormalizedDnsRule } from '../../config/dns.js'
import { FL_MAX_DNS_RULES } from '../../config/dns.js'
import type { BpfObject } from '../../libbpf/index.js'
import { SIZEOF, decodeCounters, probabilityThreshold, u32Key, type RuleCounters } from '../shared-layout.js'

export { FL_MAX_DNS_RULES }
export const DNS_SIZEOF = { fl_dns_rule: 296, fl_dns_state: 16 } as const
export const FL_DNS_NAME_LEN = 256
const ANSWER = { nxdomain: 1, servfail: 2, timeout: 3 } as const
const FL_DNS_SEEDED = 1

export function encodeDnsRule(r: NormalizedDnsRule): Buffer {
  const b = Buffer.alloc(DNS_SIZEOF.fl_dns_rule)
  b.write(r.pattern, 0, FL_DNS_NAME_LEN - 1, 'latin1') // validation allows ASCII only, at most 253
  b.writeUInt32LE(ANSWER[r.answer], 256)
  b.writeUInt32LE(probabilityThreshold(r.when.probability), 260)
  b.writeUInt32LE(r.when.times, 264)
  b.writeUInt32LE(r.when.seed !== undefined ? FL_DNS_SEEDED : 0, 268)
  b.writeBigUInt64LE(BigInt(Math.round(r.when.afterMs * 1e6)), 272)
  b.writeBigUInt64LE(BigInt(r.when.seed ?? 0), 280)
  return b
}

export function encodeDnsState(armedNs: bigint, nRules: number): Buffer {
  const b = Buffer.alloc(DNS_SIZEOF.fl_dns_state)
  b.writeBigUInt64LE(armedNs, 0)
  b.writeUInt32LE(nRules, 8)
  return b
}

/** Writes the rules, zeroes their counters, and arms them (fl_dns_state.n_rules) last. */
export function writeDnsRules(obj: BpfObject, rules: NormalizedDnsRule[], armedNs: bigint): void {
  rules.forEach((r, i) => {
    obj.map('fl_dns_counters').update(u32Key(i), Buffer.alloc(SIZEOF.fl_counters))
    obj.map('fl_dns_rules').update(u32Key(i), encodeDnsRule(r))
  })
  obj.map('fl_dns_state').update(u32Key(0), encodeDnsState(armedNs, rules.length))
}

/** Disarms first, then clears what the rules wrote. */
export function clearDnsRules(obj: BpfObject, count: number): void {
  obj.map('fl_dns_state').update(u32Key(0), encodeDnsState(0n, 0))
  for (const m of [obj.map('fl_dns_rules'), obj.map('fl_dns_counters')]) {
    for (let i = 0; i < count; i++) m.update(u32Key(i), Buffer.alloc(m.valueSize))
  }
}

export function readDnsCounters(obj: BpfObject, index: number): RuleCounters {
  return decodeCounters(obj.map('fl_dns_counters').lookup(u32Key(index)) ?? Buffer.alloc(SIZEOF.fl_counters))
}
