/**
 * Corrupted reads (`corrupt: { bytes, seed }` on read / pread64 / readv): a Python child's data
 * differs from the file exactly at the offsets, and by the XOR values, that predictCorruption()
 * names; other files, other syscalls and processes outside the targets read the file clean.
 * Where fexit or bpf_probe_write_user is missing (our host), arming is refused, naming them.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { withFailureConfig, predictCorruption, FaultlineUnsupportedError, type CorruptedByte } from '../../packages/core/src/index.js'
import { runJson } from '../support/net.js'
import { requires, skipUnless } from '../support/requires.js'
import { kernelLock } from '../support/kernel-lock.js'

// fexit on the read syscalls' entry functions: not while another file hooks syscall entries.
// Each test starts Python children: minutes under TCG on debian-6.1 (the matrix's 120 s is short).
const SLOW = 400_000
const entryLock = kernelLock('syscall-entry')
beforeAll(entryLock.acquire, 600_000)
afterAll(entryLock.release)

const PY = fileURLToPath(new URL('../fixtures/read-file.py', import.meta.url))
const dir = fs.realpathSync(tempDir('fl-corrupt-'))
const DATA = path.join(dir, 'data', 'blob.bin')
const OTHER = path.join(dir, 'other', 'blob.bin')
const GLOB = `${dir}/data/**`
// Fixed content, so a failure can be replayed: 4096 bytes of sha256 chains.
const CONTENT = Buffer.concat(Array.from({ length: 128 }, (_, i) => crypto.createHash('sha256').update(`block ${i}`).digest()))
const SHA = crypto.createHash('sha256').update(CONTENT).digest('hex')

beforeAll(() => {
  for (const f of [DATA, OTHER]) {
    fs.mkdirSync(path.dirname(f), { recursive: true })
    fs.writeFileSync(f, CONTENT)
  }
})

interface Got {
  sha256: string
  hex: string
}
// -S: no site import, fewer files to start (each Python start takes seconds under TCG)
const py = (...requests: string[]) => runJson<Got[]>('python3', ['-S', PY, ...requests])

/** Where `got` differs from `want`, and by what XOR. */
function diff(want: Buffer, got: Buffer): CorruptedByte[] {
  expect(got.length).toBe(want.length)
  const out: CorruptedByte[] = []
  for (let i = 0; i < want.length; i++) if (want[i] !== got[i]) out.push({ offset: i, xor: want[i]! ^ got[i]! })
  return out
}
const bytesOf = (g: Got) => Buffer.from(g.hex, 'hex')
const rule = (syscall: string, bytes: number, seed: number) => ({ name: 'rot', syscall, corrupt: { bytes, seed }, match: { path: GLOB } })

describe('corrupted reads', () => {
  it('flips the predicted bytes of a Python child\'s open().read(), call after call; another file reads clean', async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'fexit', 'probe-write-user')
    const cfg = { target: { scope: 'children' as const }, syscalls: [rule('read', 5, 42)] }
    await withFailureConfig(cfg, async (faults) => {
      const [first, other, second] = await py(`read:${DATA}`, `read:${OTHER}`, `read:${DATA}`)
      expect(first!.sha256).not.toBe(SHA)
      expect(diff(CONTENT, bytesOf(first!))).toEqual(predictCorruption({ seed: 42, bytes: 5, length: CONTENT.length, call: 0 }))
      expect(other!.sha256).toBe(SHA)
      // the rule's second corrupted read draws the next numbers: other bytes
      const flips1 = predictCorruption({ seed: 42, bytes: 5, length: CONTENT.length, call: 1 })
      expect(flips1).not.toEqual(predictCorruption({ seed: 42, bytes: 5, length: CONTENT.length, call: 0 }))
      expect(diff(CONTENT, bytesOf(second!))).toEqual(flips1)
      expect(faults.fired('rot')).toBe(2)
      const s = faults.stats().rot!
      expect(s.mechanism).toBe('fexit-corrupt')
      expect(s.matched).toBe(2) // the read of the other file was seen, not matched
    })
    // disarmed: clean again
    expect((await py(`read:${DATA}`))[0]!.sha256).toBe(SHA)
  }, SLOW)

  it('leaves the same file clean for processes outside the targets, while a target reads it corrupted', async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'fexit', 'probe-write-user')
    const cfg = { target: { scope: 'children' as const, comm: ['python3'] }, syscalls: [rule('read', 3, 7)] }
    await withFailureConfig(cfg, async (faults) => {
      // the caller itself (scope children) and a child that is not python3 (comm filter)
      expect(crypto.createHash('sha256').update(fs.readFileSync(DATA)).digest('hex')).toBe(SHA)
      const sum = spawnSync('sha256sum', [DATA], { encoding: 'utf8' })
      expect(sum.stdout.split(' ')[0]).toBe(SHA)
      const [got] = await py(`read:${DATA}`)
      expect(diff(CONTENT, bytesOf(got!))).toEqual(predictCorruption({ seed: 7, bytes: 3, length: CONTENT.length }))
      expect(faults.fired('rot')).toBe(1)
    })
  }, SLOW)

  it('corrupts pread64 at an offset (offsets count in what the call read), and only pread64', async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'fexit', 'probe-write-user')
    const cfg = { target: { scope: 'children' as const }, syscalls: [rule('pread64', 4, 1234)] }
    await withFailureConfig(cfg, async (faults) => {
      const [plain, at] = await py(`read:${DATA}`, `pread:${DATA}:1000:1500`)
      expect(plain!.sha256).toBe(SHA)
      const want = CONTENT.subarray(1500, 2500)
      expect(diff(want, bytesOf(at!))).toEqual(predictCorruption({ seed: 1234, bytes: 4, length: 1000 }))
      expect(faults.fired('rot')).toBe(1)
    })
  }, SLOW)

  it('corrupts readv across its iovecs', async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'fexit', 'probe-write-user')
    const cfg = { target: { scope: 'children' as const }, syscalls: [rule('readv', 16, 99)] }
    await withFailureConfig(cfg, async (faults) => {
      // 4096 bytes land as 100 + 3996 in buffers of 100 and 5000
      const [got] = await py(`readv:${DATA}:100,5000`)
      const flips = predictCorruption({ seed: 99, bytes: 16, length: CONTENT.length })
      expect(flips.some((f) => f.offset < 100) && flips.some((f) => f.offset >= 100)).toBe(true)
      expect(diff(CONTENT, bytesOf(got!))).toEqual(flips)
      expect(faults.fired('rot')).toBe(1)
    })
  }, SLOW)

  it('is refused where fexit or bpf_probe_write_user is missing, naming what is missing; arms where both exist', async () => {
    const missing = requires('tp_btf', 'fexit', 'probe-write-user')
    const cfg = { target: { scope: 'children' as const }, syscalls: [rule('read', 1, 0)] }
    const run = withFailureConfig(cfg, async (faults) => faults.fired('rot'))
    if (!missing) return expect(await run).toBe(0)
    const err = await run.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(FaultlineUnsupportedError)
    const text = String((err as Error).message)
    expect(text).toContain('syscalls[0] (rot): cannot corrupt read on this kernel (fexit-corrupt:')
    expect(text).toMatch(/fexit: |probe-write-user: /)
    expect(text).toContain('nothing was attached')
  })
})
