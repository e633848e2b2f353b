/** exploreFailures' report in each adapter's summary: a real Vitest, Jest and node:test run of a fixture. */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { skipUnless } from '../support/requires.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const fixture = (p: string) => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url))
const node = (...args: string[]) => spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 200_000 })
const FINDING = /explore: refuse matched 3x; 3 run\(s\): 2 handled, 1 failed\n {4,}refuse nth 2: failed: connect ECONNREFUSED 127\.0\.0\.1:\d+; reproduce with when: \{ nth: 2 \}/

describe('exploreFailures in the adapters', { timeout: 240_000 }, () => {
  it('the Vitest plugin prints the exploration in its report', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = node(fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url)), 'run', '--root', fixture('vitest-explore'))
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/explore\.test\.mjs > explores the connects of a client: explore: refuse matched 3x/)
    expect(r.stdout).toMatch(FINDING)
  })

  it('the Jest environment prints it in the summary of the file', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = node(fileURLToPath(new URL('../../node_modules/jest/bin/jest.js', import.meta.url)), '--config', fixture('jest-explore/jest.config.cjs'))
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/faultline \(explore\.test\.cjs\):\n {2}explores the connects of a client: explore: refuse matched 3x/)
    expect(r.stderr).toMatch(FINDING)
  })

  it('node:test gets it through exploreFaults from @faultline/core/node-test', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = node('--test', '--test-reporter=tap', fixture('node-test/explore.mjs'))
    const out = (r.stdout + r.stderr).replace(/^# /gm, '') // the TAP reporter passes the file's stderr on as comments
    expect(r.status, out).toBe(0)
    expect(out).toMatch(/faultline \(explore\.mjs\):\n {2}explores the connects of a client: explore: refuse matched 3x/)
    expect(out).toMatch(FINDING)
  })
})
