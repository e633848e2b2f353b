/**
 * examples/component as a user runs it, in both runners: Vitest with @faultline/vitest-plugin and
 * `node --test` with @faultline/core/node-test. The delay test needs netem and the config-file
 * test a kernel able to fail openat: each runs where the kernel allows (the VM matrix) and is
 * counted as skipped elsewhere.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { requires, skipUnless } from '../support/requires.js'
import { kernelLock } from '../support/kernel-lock.js'
import { tempDir } from '../support/temp-dir.js'

// Hooks syscall entries (openat) and adds qdiscs (delay): one lock after the other, always in this order.
const entryLock = kernelLock('syscall-entry')
const tcLock = kernelLock('tc')
beforeAll(async () => {
  await entryLock.acquire()
  await tcLock.acquire()
}, 1_200_000)
afterAll(() => {
  tcLock.release()
  entryLock.release()
})

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const canFailOpenat = !(requires('fmod-ret-syscall') && requires('kprobe-override') && requires('lsm') && requires('security-fmod-ret'))
const canDelay = !requires('netem', 'htb')
const TESTS = 6
const expectedSkips = (canFailOpenat ? 0 : 1) + (canDelay ? 0 : 1)

// A whole run starts PostgreSQL and the service: minutes under emulation (measured on fei-6.12
// under TCG: Vitest 259 s, node --test 115 s).
describe('examples/component', { timeout: 600_000 }, () => {
  it('Vitest: every dependency broken in turn, the service answers as designed', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const file = path.join(tempDir('fl-ex-'), 'r.json')
    const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', 'examples/component', '--reporter=default', '--reporter=json', `--outputFile=${file}`], {
      cwd: ROOT, encoding: 'utf8', timeout: 540_000,
    })
    const out = r.stdout + r.stderr
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number }
    expect({ passed: j.numPassedTests, failed: j.numFailedTests, skipped: j.numPendingTests }, out).toEqual({
      passed: TESTS - expectedSkips, failed: 0, skipped: expectedSkips,
    })
  })

  it('node --test: the same tests through withFaults, with the summary at exit', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', 'examples/component/service.node.test.mjs'], {
      cwd: ROOT, encoding: 'utf8', timeout: 540_000,
    })
    const out = r.stdout + r.stderr
    const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? NaN)
    expect({ pass: count('pass'), fail: count('fail'), skipped: count('skipped'), cancelled: count('cancelled') }, out).toEqual({
      pass: TESTS - expectedSkips, fail: 0, skipped: expectedSkips, cancelled: 0,
    })
    expect(r.status, out).toBe(0)
    expect(out).toContain('faultline (service.node.test.mjs):')
    expect(out).toContain('pricing-down fired 2x (connect via cgroup)')
    if (canDelay) expect(out).toMatch(/slow-pricing fired [1-9]\d*x \(net:delay via /)
    if (canFailOpenat) expect(out).toMatch(/no-config fired 1x \(openat via /)
  })
})
