/** A Vitest worker whose test fails every write still reports its result: faultline never
 * faults the runner's IPC channel (safeguard), whatever the rule says. */
import { it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { skipUnlessAny } from '../support/requires.js'
import { kernelLock } from '../support/kernel-lock.js'

// Hooks syscall entries: not while another such file does (kernel-lock.ts says why).
const entryLock = kernelLock('syscall-entry')
beforeAll(entryLock.acquire, 600_000)
afterAll(entryLock.release)

const PROJECT = fileURLToPath(new URL('../fixtures/runner-project', import.meta.url))

it('a Vitest worker failing every write and writev still reports its result', (ctx) => {
  skipUnlessAny(ctx, 'fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret')
  const report = path.join(tempDir('fl-vr-'), 'report.json')
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url)), 'run', '--root', PROJECT, '--reporter=json', `--outputFile=${report}`], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  const json = JSON.parse(fs.readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number }
  expect({ passed: json.numPassedTests, failed: json.numFailedTests }, r.stdout + r.stderr).toEqual({ passed: 1, failed: 0 })
  expect(r.status).toBe(0)
})
