/** @faultline/core loads both ways users load it: import (ESM) and require() (Jest environments). */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' })
const API = ['withFailureConfig', 'validateConfig', 'parseConfig', 'loadConfig', 'ConfigError', 'FaultlineUnsupportedError', 'disarmActive']

describe('packaging', () => {
  it('require() gets the CommonJS build with the whole API', () => {
    const r = node(['-e', `const c = require('@faultline/core'); console.log(JSON.stringify(Object.keys(c)))`])
    expect(r.stderr).toBe('')
    const keys = JSON.parse(r.stdout) as string[]
    for (const k of API) expect(keys).toContain(k)
  })

  it('import gets the ESM build with the same API', () => {
    const r = node(['--input-type=module', '-e', `const c = await import('@faultline/core'); console.log(JSON.stringify(Object.keys(c)))`])
    expect(r.stderr).toBe('')
    const keys = JSON.parse(r.stdout) as string[]
    for (const k of API) expect(keys).toContain(k)
  })

  it('importing does not touch native code or the kernel', () => {
    // FAULTLINE_LIBBPF points nowhere: loading the module must still work; only arming needs libbpf.
    const r = spawnSync(process.execPath, ['-e', `require('@faultline/core'); console.log('ok')`], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, FAULTLINE_LIBBPF: '/nonexistent.so' },
    })
    expect(r.stdout.trim()).toBe('ok')
  })
})
