/**
 * The examples a new user copies, run as they are (their own Vitest/Jest configs), on this
 * kernel and on fei-6.12 of the VM matrix: the tests that need a kernel able to fail openat run there.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { requires, skipUnless } from '../support/requires.js'
import { kernelLock } from '../support/kernel-lock.js'
import { tempDir } from '../support/temp-dir.js'

// Hooks syscall entries: not while another such file does (kernel-lock.ts says why).
const entryLock = kernelLock('syscall-entry')
beforeAll(entryLock.acquire, 600_000)
afterAll(entryLock.release)

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const canFailOpenat = !(requires('fmod-ret-syscall') && requires('kprobe-override') && requires('lsm') && requires('security-fmod-ret'))

interface Counts {
  passed: number
  failed: number
  skipped: number
  out: string
  /** What the faultline plugin recorded per test (examples that use it). */
  faults: Record<string, { rule: string; fired: number }[]>
}

function vitestExample(name: string): Counts {
  const file = path.join(tempDir('fl-ex-'), 'r.json')
  const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', `examples/${name}`, '--reporter=default', '--reporter=json', `--outputFile=${file}`], {
    cwd: ROOT, encoding: 'utf8', timeout: 180_000,
  })
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    numPassedTests: number; numFailedTests: number; numPendingTests: number
    testResults: { assertionResults: { title: string; meta?: { faultline?: { rule: string; fired: number }[] } }[] }[]
  }
  const faults = Object.fromEntries(j.testResults.flatMap((f) => f.assertionResults).filter((t) => t.meta?.faultline).map((t) => [t.title, t.meta!.faultline!]))
  return { passed: j.numPassedTests, failed: j.numFailedTests, skipped: j.numPendingTests, out: r.stdout + r.stderr, faults }
}

// Each example is a whole Vitest/Jest run: minutes under emulation in the VM matrix.
describe('examples', { timeout: 300_000 }, () => {
  it('quickstart passes', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = vitestExample('quickstart')
    expect(r).toMatchObject({ passed: 4, failed: 0, skipped: 0 })
    // Its tests call withFailureConfig from @faultline/core; the plugin reports those armings too.
    expect(r.faults['answers 503 when the upstream refuses every connection']).toEqual([expect.objectContaining({ rule: 'upstream-down', fired: 3 })])
  })

  it('polyglot: C and Python components under faults', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const c = vitestExample('polyglot')
    expect(c, c.out).toMatchObject({ failed: 0, passed: canFailOpenat ? 3 : 2, skipped: canFailOpenat ? 0 : 1 })
  })

  it('postgres-service with Vitest: refused, mid-test failure, unreadable config', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const c = vitestExample('postgres-service')
    expect(c, c.out).toMatchObject({ failed: 0, passed: canFailOpenat ? 4 : 3, skipped: canFailOpenat ? 0 : 1 })
  })

  it('postgres-service with Jest', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = spawnSync(process.execPath, ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--config', 'examples/postgres-service/jest.config.cjs'], {
      cwd: ROOT, encoding: 'utf8', timeout: 180_000,
    })
    expect(r.stderr).toMatch(/Tests:\s+2 passed, 2 total/)
    expect(r.status).toBe(0)
  })
})
