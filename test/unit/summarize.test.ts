/**
 * scripts/summarize.mjs, CI's closing line: counts from every report, and --ran-somewhere, which
 * fails a test the host skipped that no VM kernel ran either (a test that runs nowhere).
 */
import { describe, it, expect } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const SUMMARIZE = fileURLToPath(new URL('../../scripts/summarize.mjs', import.meta.url))
const skip = (fullName: string) => ({ fullName, status: 'skipped', meta: { skipReason: 'requires lsm: not here' } })
/** A host report as a fresh clone elsewhere writes it (file names relative to another root), and the matrix's counts. */
function results(vmRan: string[]): string {
  const dir = tempDir('fl-summarize-')
  fs.writeFileSync(path.join(dir, 'host.json'), JSON.stringify({
    testResults: [{ name: '/tmp/faultline-ci-x/faultline/test/integration/a.test.ts', status: 'passed', assertionResults: [
      { fullName: 'a runs', status: 'passed' }, skip('a needs lsm'), skip('a needs fexit'),
    ] }],
  }))
  fs.writeFileSync(path.join(dir, 'vm.counts.json'), JSON.stringify({ passed: vmRan.length, failed: 0, skipped: 0, kernels: [{ kernel: 'debian-6.1', ran: vmRan }] }))
  return dir
}
const run = (...args: string[]) => spawnSync(process.execPath, [SUMMARIZE, ...args], { encoding: 'utf8' })

describe('summarize --ran-somewhere', () => {
  it('a host skip that a VM kernel ran is a skip; one that no kernel ran fails, named', () => {
    const dir = results(['test/integration/a.test.ts > a needs lsm'])
    const r = run('--ran-somewhere', dir)
    expect(r.stdout).toMatch(/skipped here and run by no VM kernel either: .*a\.test\.ts > a needs fexit/)
    expect(r.stdout.trim().split('\n').pop()).toBe('2 passed, 1 failed, 1 skipped')
    expect(r.status).toBe(1)
  })

  it('passes when every host skip ran on some kernel, and without the flag does not judge', () => {
    const dir = results(['test/integration/a.test.ts > a needs lsm', 'test/integration/a.test.ts > a needs fexit'])
    const r = run('--ran-somewhere', dir)
    expect(r.stdout.trim().split('\n').pop()).toBe('3 passed, 0 failed, 2 skipped')
    expect(r.status).toBe(0)
    expect(run(results([])).stdout.trim().split('\n').pop()).toBe('1 passed, 0 failed, 2 skipped')
  })
})
