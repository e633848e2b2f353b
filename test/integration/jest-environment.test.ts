/** @faultline/jest-environment, used as a user would: a real Jest run of a fixture project. */
import { it, expect } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { skipUnless } from '../support/requires.js'

const JEST = fileURLToPath(new URL('../../node_modules/jest/bin/jest.js', import.meta.url))
const CONFIG = fileURLToPath(new URL('../fixtures/jest-project/jest.config.cjs', import.meta.url))

it('global faultline.with, docblock config per file, skip of an unservable file, summary', (ctx) => {
  skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
  const out = path.join(tempDir('fl-jest-'), 'r.json')
  const r = spawnSync(process.execPath, [JEST, '--config', CONFIG, '--json', `--outputFile=${out}`], { encoding: 'utf8', timeout: 120_000 })
  const rep = JSON.parse(fs.readFileSync(out, 'utf8')) as { testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] }
  const results = rep.testResults.flatMap((f) => f.assertionResults)
  const status = Object.fromEntries(results.map((t) => [t.title, t.status]))
  expect(status, `${results.flatMap((t) => t.failureMessages).join('\n')}\n${r.stderr}`).toEqual({
    'faultline.with arms for part of a test': 'passed',
    'withFailureConfig from the core, called directly': 'passed',
    'links between windows: none by default, kept with keepLinks': 'passed',
    'every test of this file runs under the pragma config': 'passed',
    'cannot run on any kernel (getppid passes no LSM hook)': 'pending', // Jest's word for skipped
  })
  expect(r.stderr).toMatch(/faultline \(pragma\.test\.cjs\):\n  every test of this file runs under the pragma config: port-refused fired 1x \(connect via cgroup\)/)
  expect(r.stderr).toMatch(/faultline \(direct\.test\.cjs\):\n  withFailureConfig from the core, called directly: direct fired 1x \(connect via cgroup\)/)
  expect(r.stderr).toMatch(/faultline \(global\.test\.cjs\):\n  faultline\.with arms for part of a test: refuse fired 1x/)
  expect(r.stderr).toMatch(/faultline \(unsupported\.test\.cjs\):\n  skipped every test: cannot arm/)
  expect(r.status).toBe(0)
})

it('keepLinks: true keeps the links between tests (the default run checks that none stay)', (ctx) => {
  skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
  const env: NodeJS.ProcessEnv = { ...process.env, FL_MODE: 'keep' }
  delete env.FAULTLINE_KEEP_LINKS
  const r = spawnSync(process.execPath, [JEST, '--config', CONFIG, 'direct', '-t', 'links between windows'], { encoding: 'utf8', timeout: 120_000, env })
  expect(r.stderr).toMatch(/✓ links between windows: none by default, kept with keepLinks/)
  expect(r.status, r.stderr).toBe(0)
})

it("refuses Jest's workerThreads: true, naming the setting", () => {
  const r = spawnSync(process.execPath, [JEST, '--config', CONFIG, '--workerThreads', '--maxWorkers=2', 'global'], { encoding: 'utf8', timeout: 120_000 })
  expect(r.stderr).toMatch(/`workerThreads: true` runs test files as threads of one process/)
  expect(r.status).not.toBe(0)
})
