/** @faultline/core loads both ways users load it: import (ESM) and require() (Jest environments). */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
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

  it('the tarball carries the BPF objects of x64 and arm64, the same set for each, built apart', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json'], { cwd: `${ROOT}/packages/core`, encoding: 'utf8' })
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path)
    const objects = (arch: string) => files.filter((f) => f.startsWith(`bpf/${arch}/`)).map((f) => f.slice(arch.length + 5)).sort()
    expect(objects('x64').length).toBeGreaterThan(5)
    expect(objects('arm64')).toEqual(objects('x64'))
    // The syscall-level objects read the saved registers: their two builds differ.
    const obj = (arch: string) => fs.readFileSync(`${ROOT}/packages/core/bpf/${arch}/sys_fmodret.bpf.o`)
    expect(obj('arm64').equals(obj('x64'))).toBe(false)
  })
})
