/**
 * The seeded draw of bpf/include/rules.h (splitmix64), in TypeScript: which eligible calls a
 * rule with `probability` and `seed` fails is a pure function of (seed, probability, index).
 */
import { probabilityThreshold } from './shared-layout.js'

const MASK64 = (1n << 64n) - 1n

/** splitmix64's output number `index` for `seed` (fl_splitmix64 in bpf/include/rules.h), 64 bits. */
export function splitmix64(seed: number | bigint, index: number | bigint): bigint {
  let z = (BigInt(seed) + (BigInt(index) + 1n) * 0x9e3779b97f4a7c15n) & MASK64
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64
  return z ^ (z >> 31n)
}

export function seededDraw(seed: number | bigint, index: number | bigint): number {
  return Number(splitmix64(seed, index) >> 32n)
}

/** The 0-based indexes, among the first `count` eligible calls, that a seeded rule fails. */
export function predictSeededFailures(seed: number, probability: number, count: number): number[] {
  const threshold = probabilityThreshold(probability)
  const out: number[] = []
  for (let i = 0; i < count; i++) if (seededDraw(seed, i) < threshold) out.push(i)
  return out
}
