/** The mirror of bpf/include/sites.h (checked by test/unit/layout.test.ts). */

export const FL_MAX_SITE_CALLS = 8192
export const FL_SITE_STACKS = 1024
export const FL_SITE_DEPTH = 32
export const FL_SITE_RETS = 8

/** struct fl_site: stack id, how many return addresses the scan found, the addresses, the comm. */
export const SITE_SIZE = 8 + 8 * FL_SITE_RETS + 16

export function decodeSite(b: Buffer): { stackId: number; rets: bigint[]; comm: string } {
  const n = Math.min(b.readUInt32LE(4), FL_SITE_RETS)
  const commAt = 8 + 8 * FL_SITE_RETS
  const comm = b.subarray(commAt, commAt + 16)
  return {
    stackId: b.readInt32LE(0),
    rets: Array.from({ length: n }, (_, i) => b.readBigUInt64LE(8 + 8 * i)),
    comm: comm.subarray(0, comm.includes(0) ? comm.indexOf(0) : 16).toString('latin1'),
  }
}

/** struct fl_site_key: the rule index and the call's 1-based eligible index. */
export const SITE_KEY_SIZE = 8

export function decodeSiteKey(b: Buffer): { rule: number; nth: number } {
  return { rule: b.readUInt32LE(0), nth: b.readUInt32LE(4) }
}

/** A stack of fl_site_stacks: the non-zero return addresses, innermost first. */
export function decodeStack(b: Buffer): bigint[] {
  const frames: bigint[] = []
  for (let off = 0; off + 8 <= b.length; off += 8) {
    const ip = b.readBigUInt64LE(off)
    if (ip === 0n) break
    frames.push(ip)
  }
  return frames
}
