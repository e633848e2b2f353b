/** Which bytes a corrupt rule flips (predictCorruption mirrors bpf/corrupt.bpf.c), and its config. */
import { describe, it, expect } from 'vitest'
import { predictCorruption, applyCorruption, validateConfig } from '../../packages/core/src/index.js'
import { splitmix64 } from '../../packages/core/src/engine/prng.js'

describe('predictCorruption', () => {
  it('flips one byte per segment, each by a non-zero XOR, the same for the same seed', () => {
    for (const [bytes, length] of [[1, 1], [4, 4096], [5, 4096], [64, 100], [7, 7], [3, 1_000_003]]) {
      const flips = predictCorruption({ seed: 42, bytes: bytes!, length: length! })
      expect(flips).toHaveLength(Math.min(bytes!, length!))
      const seg = Math.floor(length! / bytes!)
      flips.forEach((f, k) => {
        expect(f.xor).toBeGreaterThan(0)
        expect(f.xor).toBeLessThan(256)
        expect(f.offset).toBeGreaterThanOrEqual(k * seg)
        expect(f.offset).toBeLessThan(k === bytes! - 1 ? length! : (k + 1) * seg)
      })
      expect(predictCorruption({ seed: 42, bytes: bytes!, length: length! })).toEqual(flips)
    }
  })

  it('flips every byte of a call that read no more than `bytes`, and nothing of an empty one', () => {
    expect(predictCorruption({ seed: 1, bytes: 8, length: 3 }).map((f) => f.offset)).toEqual([0, 1, 2])
    expect(predictCorruption({ seed: 1, bytes: 8, length: 0 })).toEqual([])
  })

  it('draws splitmix64(seed, call * bytes + k): offset from the high half, XOR from the low byte', () => {
    const z = splitmix64(9, 2 * 4 + 1) // call 2, segment 1
    const [, f] = predictCorruption({ seed: 9, bytes: 4, length: 400, call: 2 })
    expect(f!.offset).toBe(100 + Number((z >> 32n) % 100n))
    expect(f!.xor).toBe(Number(z & 0xffn) || 0xff)
    expect(predictCorruption({ seed: 9, bytes: 4, length: 400, call: 3 })).not.toEqual(predictCorruption({ seed: 9, bytes: 4, length: 400, call: 2 }))
  })

  it('applyCorruption changes exactly the predicted bytes', () => {
    const data = Buffer.alloc(1000, 7)
    const flips = predictCorruption({ seed: 3, bytes: 10, length: data.length })
    const got = applyCorruption(data, flips)
    const changed = [...got.keys()].filter((i) => got[i] !== data[i])
    expect(changed).toEqual(flips.map((f) => f.offset))
    expect(data.every((b) => b === 7)).toBe(true) // a copy
  })
})

describe('corrupt rules in the config', () => {
  it('normalizes to ret 0 with the parameters, seed 0 by default, match.path on a read call', () => {
    const cfg = validateConfig({ syscalls: [{ name: 'c', syscall: 'pread64', corrupt: { bytes: 3 }, match: { path: '/data/**' } }] })
    expect(cfg.syscalls[0]).toMatchObject({ ret: 0, errnoName: undefined, corrupt: { bytes: 3, seed: 0 }, match: { path: '/data/**' } })
    expect(cfg.warnings).toEqual([])
  })

  it('still refuses match.path on read for an errno rule', () => {
    expect(() => validateConfig({ syscalls: [{ name: 'e', syscall: 'read', errno: 'EIO', match: { path: '/data/**' } }] })).toThrow(/syscalls\[0\]\.match\.path: does not apply to read/)
  })
})
