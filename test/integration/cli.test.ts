/**
 * The faultline command, run as a user would (the built bin), against the real kernel. What
 * needs no kernel (arguments, validate without --kernel, schema, a missing libbpf) is in
 * cli-config.test.ts.
 */
import { describe, it, expect } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { has, skipBecause, skipUnless } from '../support/requires.js'
import { startServer } from '../support/net.js'
import { inView, nobodyCommand } from '../support/unprivileged.js'
import { BIN, cli, tmpFile } from '../support/cli.js'
import { FEATURES, probeFeature, type Feature } from '../../packages/core/src/kernel/index.js'

const CONNECT = fileURLToPath(new URL('../fixtures/connect.cjs', import.meta.url))
const LOOP = fileURLToPath(new URL('../fixtures/connect-loop.cjs', import.meta.url))

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
    const report = JSON.parse(r.stdout) as { features: { feature: Feature; available: boolean; probeError?: true }[]; usable: boolean }
    expect(report.usable).toBe(true)
    // every feature, with the same answer: available, missing, or a failed probe (which fails here)
    expect(report.features.map((f) => f.feature)).toEqual([...FEATURES])
    for (const f of report.features) {
      expect(f.probeError, f.feature).toBeUndefined()
      expect(f.available, f.feature).toBe(has(f.feature))
    }
  })

  it('says whether DNS faults work here, and through which TC attachment', () => {
    const report = JSON.parse(cli('doctor', '--json').stdout) as { features: { feature: string; available: boolean }[]; dns: { available: boolean; how: string } }
    const has = (f: string) => report.features.some((x) => x.feature === f && x.available)
    expect(report.dns.available).toBe(has('tcx') || has('cls-bpf'))
    if (report.dns.available) expect(report.dns.how).toMatch(has('tcx') ? /\(tcx\)/ : /\(cls_bpf\)/)
    expect(cli('doctor').stdout).toMatch(/dns faults .*nxdomain, servfail, timeout by name/)
  })

  it('unprivileged (a CI runner\'s user): probes nothing it may not, says which capabilities each probe needs, exits 0', (ctx) => {
    if (process.getuid?.() !== 0) skipBecause(ctx, 'needs root to drop privileges')
    const r = spawnSync(...nobodyCommand('', [process.execPath, inView(BIN), 'doctor']), { encoding: 'utf8' })
    expect(r.stdout).toMatch(/lacks CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN/)
    expect(r.stdout).toMatch(/sudo/)
    expect(r.stdout).not.toMatch(/EPERM|not supported by this kernel/)
    expect(r.stdout).toMatch(/htb .*\n\s+not probed: needs CAP_NET_ADMIN/)
    expect(r.stdout).toMatch(/can run on this machine with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN/)
    expect(r.status).toBe(0)
  })

  it('as nobody with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (setpriv): the qdiscs as root sees them, never a missing capability as a missing kernel feature', (ctx) => {
    if (process.getuid?.() !== 0) skipBecause(ctx, 'needs root to drop privileges')
    const caps = '+bpf,+perfmon,+net_admin'
    const r = spawnSync(...nobodyCommand(caps, [process.execPath, inView(BIN), 'doctor', '--json']), { encoding: 'utf8' })
    const report = JSON.parse(r.stdout) as { features: { feature: Feature; available: boolean; reason?: string }[]; usable: boolean; missingCapabilities: string[]; problems: string[] }
    // what made it unusable, when it is: the problems and every feature it found missing
    const why = JSON.stringify({ problems: report.problems, missing: report.features.filter((f) => !f.available).map((f) => `${f.feature}: ${f.reason}`) })
    expect(report.missingCapabilities).toEqual([])
    for (const f of ['cls-bpf', 'netem', 'tbf', 'htb', 'ifb'] as const) {
      expect(report.features.find((x) => x.feature === f)?.available, f).toBe(probeFeature(f).available)
    }
    expect(report.usable, why).toBe(true)
    expect(r.status).toBe(0)
  })
})

describe('faultline validate', () => {
  it('--kernel names the mechanism of each rule, and finds a missing interface and an unresolvable host, attaching nothing', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const good = tmpFile('k.yaml', 'syscalls:\n  - name: db\n    syscall: connect\n    errno: ECONNREFUSED\n')
    const r = cli('validate', '--kernel', good)
    expect(r.stdout).toMatch(/syscalls\[0\] \(db\): connect via cgroup/)
    expect(r.stdout).toMatch(/can be armed on this kernel \(nothing was attached\)/)
    expect(r.status).toBe(0)
    const missing = tmpFile('m.yaml', 'network:\n  - { name: n, action: drop, interface: nosuchif0 }\n  - { name: h, action: drop, hosts: [no-such-host.invalid] }\n')
    const m = cli('validate', '--kernel', missing)
    expect(cli('validate', missing).status).toBe(0) // syntax alone is fine
    expect(m.status).toBe(1)
    expect(m.stderr).toMatch(/network\[0\]\.interface: no interface nosuchif0 on this machine/)
    expect(m.stderr).toMatch(/network\[1\]\.hosts: "no-such-host\.invalid" does not resolve here/)
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

describe('faultline run with a delay rule', () => {
  // The CLI arms for the command's tree only ('tree' becomes 'children'), so a delay rule, which
  // is refused where it would stop the arming process, is judged for the command.
  it("delays the command's calls as it measures them; the CLI itself is never stopped", (ctx) => {
    skipUnless(ctx, 'tp_btf', 'send-signal')
    const file = tmpFile('slow.txt', 'x')
    const cfg = tmpFile('f.yaml', `syscalls:\n  - name: slow-open\n    syscall: openat\n    delay: 400ms\n    match: { path: ${file} }\n`)
    const timed = `const t = process.hrtime.bigint(); require('fs').readFileSync(${JSON.stringify(file)}); console.log(Number(process.hrtime.bigint() - t) / 1e6)`
    const r = spawnSync(process.execPath, [BIN, 'run', '-c', cfg, '--', process.execPath, '-e', timed], { encoding: 'utf8', timeout: 100_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(Number(r.stdout.trim())).toBeGreaterThanOrEqual(400)
    expect(r.stderr).toMatch(/slow-open\s+openat\s+send-signal\s+\d+\s+1\s+1/)
  })
})

describe('faultline run: status and --json', () => {
  // Separate tests: each run starts node twice, seconds apiece under emulation on a loaded machine.
  it('a command ended by any signal exits 128 + its number, like a shell', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const cfg = tmpFile('f.yaml', 'syscalls:\n  - name: refuse\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: 9 }\n')
    for (const [sig, n] of [['USR1', 10], ['HUP', 1]] as const) {
      const killed = spawnSync(process.execPath, [BIN, 'run', '-c', cfg, '--', 'sh', '-c', `kill -${sig} $$`], { encoding: 'utf8' })
      expect(killed.status, sig).toBe(128 + n)
    }
  })

  it('--json writes the final counters as one JSON line', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const srv = await startServer()
    try {
      const cfg = tmpFile('f.yaml', `syscalls:\n  - name: refuse\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: ${srv.port} }\n`)
      const json = spawnSync(process.execPath, [BIN, 'run', '--json', '-c', cfg, '--', process.execPath, CONNECT, String(srv.port), '1'], { encoding: 'utf8' })
      expect(JSON.parse(json.stderr.trim().split('\n').at(-1)!)).toMatchObject({ status: 0, rules: { refuse: { syscall: 'connect', mechanism: 'cgroup', fired: 1 } } })
    } finally {
      await srv.close()
    }
  })
})

describe('faultline run --scope system --comm', () => {
  it('fails any process with that name, not only the command\'s, and says so', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const srv = await startServer()
    // A process named flsysnode (exec through a link of that name) that the command does not start:
    // it connects every 50 ms, before, during and after the run.
    const link = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fl-sys-')), 'flsysnode')
    fs.symlinkSync(process.execPath, link)
    const outsider = spawn(link, [LOOP, String(srv.port), '100000', '50'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    outsider.stdout.on('data', (d) => (out += d))
    try {
      await new Promise<void>((r) => outsider.stdout.once('data', () => r()))
      const cfg = tmpFile('s.yaml', `syscalls:\n  - name: refuse\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: ${srv.port} }\n`)
      // Not spawnSync: the outsider's output must be read while the run goes on.
      const run = spawn(process.execPath, [BIN, 'run', '--scope', 'system', '--comm', 'flsysnode', '-c', cfg, '--', 'sleep', '1'])
      let stderr = ''
      run.stderr.on('data', (d) => (stderr += d))
      const status = await new Promise((res) => run.on('exit', res))
      const r = { stderr, status }
      const before = out.split('\n').length
      await new Promise((res) => setTimeout(res, 300))
      const results = out.trim().split('\n').map((l) => l.split(' ')[1])
      const refused = results.filter((x) => x === 'ECONNREFUSED').length
      expect(refused).toBeGreaterThan(0)
      expect(results[0]).toBe('ok')
      expect(out.split('\n').slice(before - 1).join('\n')).not.toMatch(/ECONNREFUSED/) // after the run: through again
      expect(r.stderr).toMatch(/warning: --scope system: every process named flsysnode on this machine is a target/)
      expect(r.stderr).toMatch(new RegExp(`refuse\\s+connect\\s+cgroup\\s+\\d+\\s+\\d+\\s+${refused}\\n`))
      expect(r.status).toBe(0)
    } finally {
      outsider.kill()
      await srv.close()
    }
  })
})
