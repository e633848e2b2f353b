/**
 * Explore over the mechanisms the development host lacks (no syscall mechanism for openat, no
 * fexit): an errno rule on openat and a corrupt rule on read, each explored call by call and by
 * call site, with a C child (test/fixtures/call-sites.c: a Python child takes a minute per
 * exploration under TCG; explore.test.ts has the Python cases). The VM kernels run this file
 * (explore.test.ts, whose programs the host has, runs on the host only).
 */
import { describe, it, expect, beforeAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { skipUnless, skipUnlessAny } from '../support/requires.js'
import { exploreFailures } from '../../packages/core/src/explore/index.js'

const dir = tempDir('fl-explore-mech-')
const run = promisify(execFile)
const SITES_BIN = path.join(dir, 'call-sites')

beforeAll(() => {
  execFileSync('cc', ['-O0', '-o', SITES_BIN, fileURLToPath(new URL('../fixtures/call-sites.c', import.meta.url))])
})

describe('exploreFailures over syscall mechanisms', { timeout: 120_000 }, () => {
  it('an errno rule on openat (a syscall mechanism): each refused open of a C child is one run', async (ctx) => {
    skipUnlessAny(ctx, 'fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret')
    const file = path.join(fs.mkdtempSync(path.join(dir, 'o-')), 'data.txt')
    fs.writeFileSync(file, 'x')
    const cfg = { target: { scope: 'children' as const }, syscalls: [{ name: 'deny', syscall: 'openat', errno: 'EACCES', match: { path: file } }] }
    // one open in a loop that copes with a refusal, then one that does not
    const report = await exploreFailures(cfg, () => run(SITES_BIN, ['open', file, '1']))
    expect(report.census).toEqual({ deny: 2 })
    expect(report.runs.map((r) => [r.nth, r.outcome, r.signal, r.fired])).toEqual([[1, 'handled', null, 1], [2, 'crashed', 'SIGSEGV', 1]])
  })

  it('a corrupt rule: the run whose first read is corrupted still exits 0 (nothing checks the bytes)', async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'fexit', 'probe-write-user')
    const file = path.join(fs.mkdtempSync(path.join(dir, 'r-')), 'data.txt')
    fs.writeFileSync(file, 'some bytes to flip')
    const cfg = { target: { scope: 'children' as const }, syscalls: [{ name: 'rot', syscall: 'read', corrupt: { bytes: 2, seed: 1 }, match: { path: file } }] }
    const report = await exploreFailures(cfg, () => run(SITES_BIN, ['read', file, '1']))
    expect(report.census).toEqual({ rot: 2 })
    expect(report.runs.map((r) => [r.nth, r.outcome, r.fired])).toEqual([[1, 'handled', 1], [2, 'handled', 1]])
  })

  it("by: 'site', an errno rule on openat: a C child's loop of opens is one run, the unchecked open after it crashes", async (ctx) => {
    skipUnlessAny(ctx, 'fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret')
    const file = path.join(fs.mkdtempSync(path.join(dir, 's-')), 'data.txt')
    fs.writeFileSync(file, 'x')
    const cfg = { target: { scope: 'children' as const }, syscalls: [{ name: 'deny', syscall: 'openat', errno: 'EACCES', match: { path: file } }] }
    const report = await exploreFailures(cfg, () => run(SITES_BIN, ['open', file, '8']), { by: 'site' })
    expect(report.census).toEqual({ deny: 9 })
    expect(report.runs.map((r) => [r.nth, r.outcome, r.signal, r.fired, r.site?.calls])).toEqual([[1, 'handled', null, 1, 8], [9, 'crashed', 'SIGSEGV', 1, 1]])
  })

  it("by: 'site', a corrupt rule on read: the read loop and the read after it are two sites", async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'fexit', 'probe-write-user')
    const file = path.join(fs.mkdtempSync(path.join(dir, 'p-')), 'data.txt')
    fs.writeFileSync(file, 'some bytes to flip')
    const cfg = { target: { scope: 'children' as const }, syscalls: [{ name: 'rot', syscall: 'read', corrupt: { bytes: 1, seed: 1 }, match: { path: file } }] }
    const report = await exploreFailures(cfg, () => run(SITES_BIN, ['read', file, '4']), { by: 'site' })
    expect(report.census).toEqual({ rot: 5 })
    expect(report.runs.map((r) => [r.nth, r.outcome, r.fired, r.site?.calls])).toEqual([[1, 'handled', 1, 4], [5, 'handled', 1, 1]])
  })
})
