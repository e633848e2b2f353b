/** @faultline/vitest-plugin, used as a user would: a real Vitest run of a fixture project. */
import { describe, it, expect } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { skipUnless } from '../support/requires.js'
import { attachedLinksOfTree } from '../support/kernel-view.js'
import { tempDir } from '../support/temp-dir.js'

const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url))
const PROJECT = fileURLToPath(new URL('../fixtures/vitest-project', import.meta.url))

interface Report {
  testResults: { assertionResults: { title: string; status: string; meta: { faultline?: { rule: string; fired: number }[]; skipReason?: string } }[] }[]
}

/**
 * A whole Vitest run of the fixture project (4-6 s here, ten times that under emulation in the VM
 * matrix on a loaded machine). Asynchronous, so this worker stays responsive while it runs;
 * `only` narrows the run to the tests a case looks at.
 */
async function runProject(mode: string, only?: string): Promise<{ report: Report | undefined; out: string; status: number | null }> {
  const file = path.join(tempDir('fl-vp-'), 'r.json')
  const args = [VITEST, 'run', '--root', PROJECT, ...(only ? ['--testNamePattern', only] : [])]
  const p = spawn(process.execPath, args, { env: { ...process.env, FL_MODE: mode, FL_REPORT: file }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  p.stdout.on('data', (d) => (out += d))
  p.stderr.on('data', (d) => (out += d))
  const status = await new Promise<number | null>((resolve) => p.on('close', resolve))
  const report = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Report) : undefined
  return { report, out, status }
}
/** The run's tests by title; a run that wrote no report fails here with its output. */
function byTitle(run: { report: Report | undefined; out: string; status: number | null }) {
  if (!run.report) throw new Error(`the fixture's Vitest run exited ${run.status} without a report:\n${run.out}`)
  return Object.fromEntries(run.report.testResults.flatMap((f) => f.assertionResults).map((t) => [t.title, t]))
}

// Each case runs a whole Vitest project: give it the time a run needs under emulation.
describe('@faultline/vitest-plugin', { timeout: 240_000 }, () => {
  it('fixture, whole-test config, skip with the reason, report with fired counts and a never-fired warning', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const run = await runProject('default')
    const { out, status } = run
    const t = byTitle(run)
    expect(t['faults.with refuses connections for part of a test']).toMatchObject({ status: 'passed', meta: { faultline: [{ rule: 'db-down', fired: 1 }] } })
    expect(t['a whole test under a config']).toMatchObject({ status: 'passed', meta: { faultline: [{ rule: 'whole-test', fired: 1 }] } })
    expect(t['withFailureConfig from the core, called directly']).toMatchObject({ status: 'passed', meta: { faultline: [{ rule: 'direct', fired: 1 }] } })
    expect(t['a rule that never fires']!.status).toBe('passed')
    expect(t['links between windows: none by default, kept with keepLinks']!.status).toBe('passed')
    expect(t['an unsupported config']!.status).toBe('skipped')
    expect(t['an unsupported config']!.meta.skipReason).toMatch(/getppid passes no LSM hook/)
    expect(out).toMatch(/faultline: faults armed per test \(1 rule\(s\) never fired\)/)
    expect(out).toMatch(/db-down fired 1x \(connect via cgroup\)/)
    expect(out).toMatch(/called directly: direct fired 1x \(connect via cgroup\)/)
    expect(out).toMatch(/warning: rule 'never' never fired/)
    expect(status).toBe(0)
  })

  it('links between windows: none by default (the default run checks it), kept with keepLinks: true', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const title = 'links between windows: none by default, kept with keepLinks'
    const env = { ...process.env }
    delete process.env.FAULTLINE_KEEP_LINKS
    try {
      const run = await runProject('keep', title)
      expect(byTitle(run)[title]!.status, run.out).toBe('passed')
    } finally {
      process.env = env
    }
  })

  it('failOnUnfired turns a never-fired rule into a failing test', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const run = await runProject('strict', 'a rule that never fires')
    expect(byTitle(run)['a rule that never fires']!.status).toBe('failed')
    expect(run.status).toBe(1)
  })

  it("onUnsupported: 'fail' fails the test with the reason", async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const run = await runProject('fail', 'an unsupported config')
    expect(byTitle(run)['an unsupported config']!.status).toBe('failed')
    expect(run.out).toMatch(/getppid passes no LSM hook/)
    expect(run.status).toBe(1)
  })

  it('watch mode: a rerun arms again, and between runs nothing faultline attached stays attached', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const p = spawn(process.execPath, [VITEST, '--watch', '--root', PROJECT], { env: { ...process.env, FL_MODE: 'default' }, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    const idle = (runs: number) =>
      new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 90_000
        const poll = () => (out.split('Waiting for file changes').length > runs ? resolve() : Date.now() > deadline ? reject(new Error(out)) : setTimeout(poll, 100))
        poll()
      })
    try {
      await idle(1)
      expect(out.match(/db-down fired 1x/g)).toHaveLength(1)
      expect(attachedLinksOfTree(p.pid!)).toEqual([])
      const file = path.join(PROJECT, 'plugin.test.mjs')
      fs.utimesSync(file, new Date(), new Date()) // what an editor's save does
      await idle(2)
      expect(out.match(/db-down fired 1x/g)).toHaveLength(2)
      expect(attachedLinksOfTree(p.pid!)).toEqual([])
    } finally {
      p.kill()
    }
  }, 120_000)

  it('refuses the threads pool, saying why', async () => {
    const { out, status } = await runProject('threads')
    expect(out).toMatch(/pool 'threads' runs test files as threads of one process/)
    expect(status).not.toBe(0)
  })
})
