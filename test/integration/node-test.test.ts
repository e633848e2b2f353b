/**
 * @faultline/core/node-test on the real kernel: `node --test` (this Node) runs the fixtures in
 * test/fixtures/node-test/ and we read what its report and the process say. Node 24 and a
 * packed tarball: test/acceptance/packed.sh.
 */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { skipUnless } from '../support/requires.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function nodeTest(file: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', `test/fixtures/node-test/${file}`], {
    cwd: ROOT, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env },
  })
  const out = r.stdout + r.stderr
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? NaN)
  return { status: r.status, out, pass: count('pass'), fail: count('fail'), cancelled: count('cancelled') }
}

describe('node:test withFaults', { timeout: 300_000 }, () => {
  it('the fault fires inside the window only; the summary at exit gives fired counts and never-fired warnings', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = nodeTest('fires.mjs')
    expect({ status: r.status, pass: r.pass, fail: r.fail }, r.out).toEqual({ status: 0, pass: 1, fail: 0 })
    expect(r.out).toContain('faultline (fires.mjs):')
    expect(r.out).toContain('refused while armed, connected after: refused fired 1x (connect via cgroup), never fired 0x (connect via cgroup)')
    expect(r.out).toContain("warning: rule 'never' never fired: the failure path was never exercised")
  })

  it('a test that times out while armed is disarmed when its signal aborts: the next test connects', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    // The timeout must be long enough for the first connect to be refused under emulation.
    const r = nodeTest('timeout.mjs', { FL_TIMEOUT: '5000' })
    expect(r.out).toMatch(/not ok 1 - hangs while armed[\s\S]*test timed out after 5000ms/)
    expect(r.out).toMatch(/^ok 2 - after the timeout: disarmed$/m)
    expect(r.out).toContain('hangs while armed: refused fired 1x')
    expect(r.status).not.toBe(0)
  })

  it('refuses tests armed concurrently in one process, naming the concurrency setting; both fail', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = nodeTest('concurrent.mjs')
    expect(r.fail, r.out).toBe(2)
    expect(r.out).toContain("test 'two at a time > first' in this process is armed at the same time")
    expect(r.out).toContain('`concurrency` above 1')
    expect(r.out).toContain("test 'two at a time > second' ran in this process while this test was armed")
    expect(r.status).not.toBe(0)
  })

  it('require() gets the CommonJS entry, sharing the engine of require("@faultline/core")', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = nodeTest('require.cjs')
    expect({ status: r.status, pass: r.pass }, r.out).toEqual({ status: 0, pass: 1 })
    expect(r.out).toContain('armed through the CommonJS entry: refused fired 0x')
  })
})
