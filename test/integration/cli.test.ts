/** The faultline command, run as a user would (the built bin), against the real kernel. */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { skipBecause, skipUnless } from '../support/requires.js'
import { startServer } from '../support/net.js'

const BIN = fileURLToPath(new URL('../../packages/core/dist/cli/main.js', import.meta.url))
const CONNECT = fileURLToPath(new URL('../fixtures/connect.cjs', import.meta.url))
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })

function tmpFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-cli-'))
  fs.writeFileSync(path.join(dir, name), text)
  return path.join(dir, name)
}

describe('faultline doctor', () => {
  it('reports kernel, libbpf, privileges and mechanisms, and exits 0 where faultline can run', () => {
    const r = cli('doctor')
    expect(r.stdout).toMatch(/libbpf\s+1\.\d+/)
    expect(r.stdout).toMatch(/cgroup-sockaddr/)
    expect(r.stdout).toMatch(/syscalls that can be failed here: (any|.*connect)/)
    expect(r.status).toBe(0)
  })

  it('runs as `npx faultline doctor`, through the bin npm links at install', () => {
    const r = spawnSync('npx', ['--no-install', 'faultline', 'doctor'], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) })
    expect(r.stdout, r.stderr).toMatch(/^faultline doctor/)
    expect(r.status).toBe(0)
  })

  it('--json agrees with the features the tests probe', () => {
    const r = cli('doctor', '--json')
    const report = JSON.parse(r.stdout) as { features: { feature: string; available: boolean }[]; usable: boolean }
    expect(report.usable).toBe(true)
    const names = report.features.map((f) => f.feature)
    for (const f of ['tp_btf', 'cgroup-sockaddr', 'tcx', 'kprobe-override', 'fmod-ret-syscall', 'lsm', 'security-fmod-ret']) expect(names).toContain(f)
  })

  it('exits non-zero with the reason when faultline cannot run (unprivileged)', (ctx) => {
    if (process.getuid?.() !== 0) skipBecause(ctx, 'needs root to drop privileges')
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, BIN, 'doctor'], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/missing CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN/)
    expect(r.stdout).toMatch(/sudo/)
  })
})

describe('faultline validate', () => {
  it('accepts a good config and rejects a bad one naming the field', () => {
    const good = tmpFile('good.yaml', 'syscalls:\n  - name: db\n    syscall: connect\n    errno: ECONNREFUSED\n')
    const bad = tmpFile('bad.yaml', 'syscalls:\n  - name: db\n    syscall: connect\n    errno: ECONREFUSED\n')
    expect(cli('validate', good).status).toBe(0)
    const r = cli('validate', bad)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/syscalls\[0\]\.errno.*ECONNREFUSED/)
  })
})

describe('faultline run', () => {
  it('runs a command under a config, prints the counters and passes its exit status through', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const srv = await startServer()
    try {
      const cfg = tmpFile('f.yaml', `syscalls:\n  - name: refuse\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: ${srv.port} }\n`)
      const r = spawnSync(process.execPath, [BIN, 'run', '-c', cfg, '--', process.execPath, CONNECT, String(srv.port), '2'], { encoding: 'utf8' })
      expect(r.stdout.trim()).toBe('["ECONNREFUSED","ECONNREFUSED"]')
      expect(r.stderr).toMatch(/refuse\s+connect\s+cgroup\s+2\s+2\s+2/)
      expect(r.status).toBe(0)
      const exit3 = spawnSync(process.execPath, [BIN, 'run', '-c', cfg, '--', 'sh', '-c', 'exit 3'], { encoding: 'utf8' })
      expect(exit3.status).toBe(3)
    } finally {
      await srv.close()
    }
  })
})

describe('without libbpf', () => {
  it('says which package to install', () => {
    const r = spawnSync(process.execPath, [BIN, 'doctor'], { encoding: 'utf8', env: { ...process.env, FAULTLINE_LIBBPF: '/nonexistent/libbpf.so.1' } })
    expect(r.status).toBe(1)
    expect(r.stdout + r.stderr).toMatch(/cannot load \/nonexistent\/libbpf\.so\.1.*apt-get install libbpf1/s)
  })
})
