// Issue 15's kinds from the packed tarball, as a new user writes them from the README: a delay
// rule (its resumer is a file of the package) and a DNS rule, each seen by a real process.
import { spawnSync } from 'node:child_process'
import dns from 'node:dns'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test, expect } from 'vitest'
import { withFailureConfig } from '@faultline/core'

test('a child\'s open returns late, by its own clock', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kinds-')), 'slow.txt')
  fs.writeFileSync(file, 'x')
  const timed = `const t = process.hrtime.bigint(); require('fs').readFileSync(${JSON.stringify(file)}); console.log(Number(process.hrtime.bigint() - t) / 1e6)`
  await withFailureConfig({ target: { scope: 'children' }, syscalls: [{ name: 'kinds-slow-open', syscall: 'openat', delay: '300ms', match: { path: file } }] }, async (faults) => {
    const r = spawnSync(process.execPath, ['-e', timed], { encoding: 'utf8' })
    expect(Number(r.stdout.trim())).toBeGreaterThanOrEqual(300)
    expect(faults.fired('kinds-slow-open')).toBe(1)
  })
})

test('one name gets NXDOMAIN', async () => {
  await withFailureConfig({ dns: [{ name: 'api.example.com', answer: 'nxdomain' }] }, async (faults) => {
    const err = await dns.promises.lookup('api.example.com').catch((e) => e)
    expect(err.code).toBe('ENOTFOUND')
    expect(faults.fired('api.example.com')).toBeGreaterThan(0)
  })
})
