/**
 * `corrupt: { bytes, seed }` on a syscall rule (instead of errno / ret): the call succeeds and
 * `bytes` bytes of what it read are flipped (bpf/corrupt.bpf.c). Only on read calls, and only
 * under a `match.path` glob: corrupting every read of a process (its own code, its libraries)
 * is never what a test means; `match.path: '/**'` says "every file" explicitly.
 */
import type { ConfigIssue } from './errors.js'
import { describe } from './describe.js'

export const CORRUPT_KEYS = ['bytes', 'seed']
export const CORRUPT_SYSCALLS = ['read', 'pread64', 'readv']
/** FL_CORRUPT_MAX_BYTES in bpf/corrupt.bpf.c. */
export const CORRUPT_MAX_BYTES = 64
/** A seed is used as an unsigned 64-bit number; JavaScript numbers are exact up to 2^53. */
const MAX_SEED = Number.MAX_SAFE_INTEGER

export interface NormalizedCorrupt {
  /** Bytes flipped per corrupted call, 1..CORRUPT_MAX_BYTES. */
  bytes: number
  /** Which bytes and how: splitmix64(seed, ...) (engine/corrupt/corrupt-prediction.ts predicts them). Default 0. */
  seed: number
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Checks a rule's `corrupt` field (`path` is the rule's path, e.g. 'syscalls[0]'). */
export function validateCorrupt(rule: Obj, path: string, issues: ConfigIssue[]): NormalizedCorrupt | undefined {
  const raw = rule.corrupt
  const at = `${path}.corrupt`
  const add = (p: string, message: string) => issues.push({ path: p, message })
  const before = issues.length
  if (!isObj(raw)) {
    add(at, `must be an object { bytes: 1..${CORRUPT_MAX_BYTES}, seed?: integer }, got ${describe(raw)}`)
    return undefined
  }
  for (const k of Object.keys(raw)) if (!CORRUPT_KEYS.includes(k)) add(`${at}.${k}`, `unknown key (allowed: ${CORRUPT_KEYS.join(', ')})`)
  const { bytes, seed } = raw
  if (!(typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= 1 && bytes <= CORRUPT_MAX_BYTES)) {
    add(`${at}.bytes`, `must be an integer 1..${CORRUPT_MAX_BYTES} (bytes flipped per corrupted read), got ${describe(bytes)}`)
  }
  if (seed !== undefined && !(typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED)) {
    add(`${at}.seed`, `must be a non-negative integer up to ${MAX_SEED}, got ${describe(seed)}`)
  }
  if (typeof rule.syscall === 'string' && !CORRUPT_SYSCALLS.includes(rule.syscall)) {
    add(`${path}.syscall`, `corrupt applies to ${CORRUPT_SYSCALLS.join(', ')} only (what a call read), not to ${rule.syscall}`)
  }
  if (rule.errno !== undefined || rule.ret !== undefined) {
    add(at, `give corrupt or ${rule.errno !== undefined ? 'errno' : 'ret'}, not both: a corrupted read succeeds`)
  }
  const match = isObj(rule.match) ? rule.match : {}
  if (match.path === undefined) {
    add(`${path}.match.path`, `corrupt needs a glob of the files whose reads are corrupted (e.g. "/tmp/app/data/**"; "/**" for every file)`)
  }
  if (match.fd !== undefined) add(`${path}.match.fd`, 'corrupt takes match.path (the file read), not match.fd')
  if (rule.mechanism !== undefined && rule.mechanism !== 'fexit-corrupt') {
    add(`${path}.mechanism`, `corrupt is served by fexit-corrupt only, not ${describe(rule.mechanism)} (or leave mechanism out)`)
  }
  if (issues.length > before) return undefined
  return { bytes: bytes as number, seed: (seed as number | undefined) ?? 0 }
}
