/**
 * The TypeScript mirror of bpf/include/faultline.h: encoders for what user space writes into
 * the maps and decoders for what it reads back. test/unit/layout.test.ts compiles the header
 * and checks these sizes and offsets.
 */
import type { NormalizedSyscallRule } from '../config/types.js'
import { FL_COMM_LEN } from '../bpf-limits.js'

export { FL_COMM_LEN, FL_MAX_COMMS, FL_MAX_RULES, FL_OP, FL_OP_CORRUPT_BASE, FL_OP_DELAY_BASE, FL_OP_SYS_BASE, type FlOpName } from '../bpf-limits.js'

export const FL_TARGET_TRACK = 1
export const FL_TARGET_FAULT = 2

export const FL_STATE_COMM_FILTER = 1
export const FL_STATE_SYSTEM = 2
export const FL_STATE_EXCLUDE_ROOT = 4
export const FL_STATE_NEED_PATH = 8
export const FL_STATE_SITES = 16

export const FL_MATCH_PORT = 1
export const FL_MATCH_ADDR = 2
export const FL_MATCH_FAMILY = 4
export const FL_MATCH_PATH = 8
export const FL_MATCH_FLAGS = 16

export const FL_RULE_SEEDED = 1
export const FL_RULE_AFTER_FROM_EXEC = 2

export const FL_PROB_ALWAYS = 0xffffffff

export const FL_MAX_SYSCALLS = 512
export const FL_GLOB_LEN = 128
export const FL_ARG_NONE = 0xff

export const AF_INET = 2
export const AF_INET6 = 10

export const SIZEOF = { fl_target: 24, fl_state: 40, fl_rule: 88, fl_counters: 40, fl_sysinfo: 8, fl_glob: 128 } as const

/** Offsets of fl_rule fields, checked against the C header by the layout test. */
export const RULE_OFFSETS = {
  op: 0, ret: 4, match_flags: 8, port: 12, family: 14, addr: 16, mask: 32,
  after_ns: 48, nth: 56, times: 60, prob: 64, flags: 68, comm_mask: 72, open_flags: 76, seed: 80,
} as const

export function u32Key(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

export interface StateFields {
  armedNs: bigint
  flags: number
  nRules: number
  /** The arming process's global tgid (engine/identity.ts), never process.pid. */
  rootTgid: number
  /** faultline's own thread (global tid) while it works: never failed. */
  exemptTid: number
  /** Inode of the test runner's IPC socket: never failed. */
  exemptIno: bigint
  /** The arming process's pid namespace: targets are reported, and scope 'system' kept, there. */
  pidnsLevel: number
  pidnsIno: number
}

export function encodeState(s: StateFields): Buffer {
  const b = Buffer.alloc(SIZEOF.fl_state)
  b.writeBigUInt64LE(s.armedNs, 0)
  b.writeUInt32LE(s.flags, 8)
  b.writeUInt32LE(s.nRules, 12)
  b.writeUInt32LE(s.rootTgid, 16)
  b.writeUInt32LE(s.exemptTid, 20)
  b.writeBigUInt64LE(s.exemptIno, 24)
  b.writeUInt32LE(s.pidnsLevel, 32)
  b.writeUInt32LE(s.pidnsIno, 36)
  return b
}

/** fl_target.vpid: the target's pid in the arming process's namespace, 0 when not visible there. */
export function decodeTargetVpid(value: Buffer): number {
  return value.readUInt32LE(16)
}

/** Probability 0..1 -> the u32 threshold the BPF side compares a 32-bit draw against. */
export function probabilityThreshold(p: number): number {
  if (p >= 1) return FL_PROB_ALWAYS
  return Math.min(Math.floor(p * 2 ** 32), FL_PROB_ALWAYS - 1)
}

export interface RuleEncoding {
  op: number
  afterFromExec: boolean
  /** Bits of the fl_comms entries this rule applies to; 0 = every target. */
  commMask: number
  /** Open flag bits that must all be set (match.flags), 0 = no filter. */
  openFlags: number
}

export function encodeRule(rule: NormalizedSyscallRule, enc: RuleEncoding): Buffer {
  const b = Buffer.alloc(SIZEOF.fl_rule)
  const o = RULE_OFFSETS
  let matchFlags = 0
  b.writeUInt32LE(enc.op, o.op)
  b.writeInt32LE(rule.ret, o.ret)
  if (rule.match.port !== undefined) {
    matchFlags |= FL_MATCH_PORT
    b.writeUInt16LE(rule.match.port, o.port)
  }
  const family = rule.match.address?.family ?? rule.match.family
  if (family) b.writeUInt8(family === 'inet' ? AF_INET : AF_INET6, o.family)
  if (rule.match.family) matchFlags |= FL_MATCH_FAMILY
  if (rule.match.path || rule.match.fd) matchFlags |= FL_MATCH_PATH
  if (enc.openFlags) {
    matchFlags |= FL_MATCH_FLAGS
    b.writeUInt32LE(enc.openFlags >>> 0, o.open_flags)
  }
  const addr = rule.match.address
  if (addr) {
    matchFlags |= FL_MATCH_ADDR
    const mask = prefixMask(addr.bytes.length, addr.prefixLen)
    for (let i = 0; i < addr.bytes.length; i++) {
      b[o.addr + i] = (addr.bytes[i] ?? 0) & (mask[i] ?? 0)
      b[o.mask + i] = mask[i] ?? 0
    }
  }
  b.writeUInt32LE(matchFlags, o.match_flags)
  b.writeBigUInt64LE(BigInt(Math.round(rule.when.afterMs * 1e6)), o.after_ns)
  b.writeUInt32LE(rule.when.nth, o.nth)
  b.writeUInt32LE(rule.when.times, o.times)
  b.writeUInt32LE(probabilityThreshold(rule.when.probability), o.prob)
  let flags = 0
  if (rule.when.seed !== undefined) {
    flags |= FL_RULE_SEEDED
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(rule.when.seed)), o.seed)
  }
  if (enc.afterFromExec) flags |= FL_RULE_AFTER_FROM_EXEC
  b.writeUInt32LE(flags, o.flags)
  b.writeUInt32LE(enc.commMask >>> 0, o.comm_mask)
  return b
}

/** Network-order mask bytes of a prefix: prefixMask(4, 20) -> ff ff f0 00. */
export function prefixMask(len: number, prefix: number): Uint8Array {
  const m = new Uint8Array(len)
  for (let i = 0; i < len; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8))
    m[i] = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff
  }
  return m
}

export interface RuleCounters {
  /** Calls of the rule's syscall made by targeted processes. */
  seen: number
  /** ... that passed the rule's match filter. */
  matched: number
  /** ... that were past `after` (the index nth and seeded draws count). */
  eligible: number
  /** ... that were failed. */
  fired: number
}

export function decodeCounters(b: Buffer): RuleCounters {
  return {
    seen: Number(b.readBigUInt64LE(0)),
    matched: Number(b.readBigUInt64LE(8)),
    eligible: Number(b.readBigUInt64LE(16)),
    fired: Number(b.readBigUInt64LE(24)),
  }
}

export function encodeComm(comm: string): Buffer {
  const b = Buffer.alloc(FL_COMM_LEN)
  b.write(comm.slice(0, FL_COMM_LEN - 1), 'utf8')
  return b
}

export function encodeSysinfo(args: { path?: number; flags?: number; fd?: number; implied?: number }): Buffer {
  const b = Buffer.alloc(SIZEOF.fl_sysinfo)
  b.writeUInt8(args.path ?? FL_ARG_NONE, 0)
  b.writeUInt8(args.flags ?? FL_ARG_NONE, 1)
  b.writeUInt8(args.fd ?? FL_ARG_NONE, 2)
  b.writeUInt32LE(args.implied ?? 0, 4)
  return b
}

/** A glob, NUL-terminated in FL_GLOB_LEN bytes (validation keeps it shorter). */
export function encodeGlob(glob: string): Buffer {
  const b = Buffer.alloc(SIZEOF.fl_glob)
  b.write(glob.slice(0, FL_GLOB_LEN - 1), 'utf8')
  return b
}
