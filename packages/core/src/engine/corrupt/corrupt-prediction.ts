/**
 * Which bytes a corrupt rule flips (bpf/corrupt.bpf.c, fl_flip_one), in TypeScript, so a test
 * or a user can say in advance exactly what a corrupted read returns.
 */
import { splitmix64 } from '../prng.js'

export interface CorruptedByte {
  /** Position in what the call read (readv: in the data of its first 8 iovecs, one after the other). */
  offset: number
  /** What the byte was XORed with (never 0). */
  xor: number
}

/**
 * The bytes flipped in a rule's corrupted call number `call` (0 for its first: the rule's
 * `fired` count before that call, counted over the whole target tree) that read `length` bytes.
 * The data is cut into `bytes` equal segments (the last takes the rest) and one byte of each is
 * flipped; with `length <= bytes` every byte is. Draw k is splitmix64(seed, call * bytes + k):
 * its high 32 bits pick the offset in segment k, its low byte the XOR value (0 -> 0xff).
 */
export function predictCorruption(opts: { seed?: number; bytes: number; length: number; call?: number }): CorruptedByte[] {
  const { bytes, length } = opts
  const seed = BigInt(opts.seed ?? 0)
  const first = BigInt(opts.call ?? 0) * BigInt(bytes)
  const total = BigInt(length)
  const n = BigInt(bytes)
  const out: CorruptedByte[] = []
  for (let k = 0n; k < n; k++) {
    const z = splitmix64(seed, first + k)
    let off: bigint
    if (total <= n) {
      if (k >= total) break
      off = k
    } else {
      const seg = total / n
      const span = k + 1n === n ? total - k * seg : seg
      off = k * seg + (z >> 32n) % span
    }
    out.push({ offset: Number(off), xor: Number(z & 0xffn) || 0xff })
  }
  return out
}

/** `data` as a corrupted read returns it: a copy with `flips` applied. */
export function applyCorruption(data: Uint8Array, flips: CorruptedByte[]): Buffer {
  const out = Buffer.from(data)
  for (const f of flips) out[f.offset] = (out[f.offset] ?? 0) ^ f.xor
  return out
}
