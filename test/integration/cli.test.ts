/**
 * The faultline command, run as a user would (the built bin), against the real kernel. What
 * needs no kernel (arguments, validate without --kernel, schema, a missing libbpf) is in
 * cli-config.test.ts, `faultline run` in cli-run.test.ts.
 */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { has, skipBecause, skipUnless } from '../support/requires.js'
import { inView, nobodyCommand } from '../support/unprivileged.js'
import { BIN, cli, tmpFile } from '../support/cli.js'
import { FEATURES, probeFeature, type Feature } from '../../packages/core/src/kernel/index.js'

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
