/** struct fl_corrupt of corrupt.bpf.c: { u32 bytes; u32 _pad; u64 seed } (the layout test checks it). */
export const CORRUPT_PARAMS = { size: 16, bytes: 0, seed: 8 } as const

export function encodeCorrupt(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(CORRUPT_PARAMS.size)
  b.writeUInt32LE(bytes, CORRUPT_PARAMS.bytes)
  b.writeBigUInt64LE(BigInt(seed), CORRUPT_PARAMS.seed)
  return b
}
