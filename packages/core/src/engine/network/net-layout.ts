/** The TypeScript mirror of bpf/include/net.h (sizes checked by test/unit/layout.test.ts). */
import type { NormalizedAddress, NormalizedNetworkRule } from '../../config/types.js'
import { prefixMask, probabilityThreshold } from '../shared-layout.js'

export { FL_MAX_NET_RULES } from '../../bpf-limits.js'
export const NET_SIZEOF = { fl_net_rule: 72, fl_net_dev: 8, fl_net_lpm_key: 24, fl_net_state: 24 } as const
const ACTION = { drop: 1, corrupt: 2, duplicate: 3, delay: 4, bandwidth: 4, reset: 5 } as const
const PROTO = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const
const FL_NET_STOLEN = 1
const FL_NET_SEEDED = 2
const FL_NET_HOSTS = 4
const FL_NET_ALLOW = 8

/**
 * classId: the htb class a shaping rule (delay, bandwidth) steers packets into; 0 otherwise.
 * commMask: the comm bits of the rule's `comm` (engine/comms.ts); 0 = every target.
 */
export function encodeNetRule(r: NormalizedNetworkRule, hasHosts: boolean, classId = 0, commMask = 0): Buffer {
  const b = Buffer.alloc(NET_SIZEOF.fl_net_rule)
  b.writeUInt32LE(ACTION[r.action as keyof typeof ACTION] ?? 0, 0)
  b.writeUInt32LE((r.direction === 'ingress' ? 0 : 1) | (r.direction === 'egress' ? 0 : 2), 4)
  b.writeUInt32LE(r.protocol ? PROTO[r.protocol] : 0, 8)
  b.writeUInt32LE(r.ports.length, 12)
  r.ports.forEach((p, i) => b.writeUInt16LE(p, 16 + i * 2))
  b.writeUInt32LE(probabilityThreshold(r.when.probability), 32)
  b.writeUInt32LE(r.when.times, 36)
  let flags = 0
  if (r.stolen) flags |= FL_NET_STOLEN
  if (r.when.seed !== undefined) flags |= FL_NET_SEEDED
  if (hasHosts) flags |= FL_NET_HOSTS
  if (r.allow.length) flags |= FL_NET_ALLOW
  b.writeUInt32LE(flags, 40)
  b.writeUInt32LE(classId, 44)
  b.writeBigUInt64LE(BigInt(Math.round(r.when.afterMs * 1e6)), 48)
  b.writeBigUInt64LE(BigInt(r.when.seed ?? 0), 56)
  b.writeUInt32LE(commMask, 64)
  b.writeUInt32LE(r.when.nth, 68)
  return b
}

/** fl_net_dev: the interface's link-layer header length and the rules that apply on it. */
export function encodeNetDev(l2Len: number, rules: number): Buffer {
  const b = Buffer.alloc(NET_SIZEOF.fl_net_dev)
  b.writeUInt32LE(l2Len, 0)
  b.writeUInt32LE(rules >>> 0, 4)
  return b
}

export function encodeLpmKey(rule: number, a: NormalizedAddress): Buffer {
  const b = Buffer.alloc(NET_SIZEOF.fl_net_lpm_key)
  b.writeUInt32LE(32 + a.prefixLen, 0)
  b.writeUInt8(rule, 4)
  b.writeUInt8(a.family === 'inet' ? 2 : 10, 5)
  const mask = prefixMask(a.bytes.length, a.prefixLen)
  for (let i = 0; i < a.bytes.length; i++) b[8 + i] = (a.bytes[i] ?? 0) & (mask[i] ?? 0)
  return b
}

export function encodeNetState(armedNs: bigint, nRules: number, shaping: { ifbIfindex: number; tcpMss: number } = { ifbIfindex: 0, tcpMss: 0 }): Buffer {
  const b = Buffer.alloc(NET_SIZEOF.fl_net_state)
  b.writeBigUInt64LE(armedNs, 0)
  b.writeUInt32LE(nRules, 8)
  b.writeUInt32LE(shaping.ifbIfindex, 12)
  b.writeUInt32LE(shaping.tcpMss, 16)
  return b
}
