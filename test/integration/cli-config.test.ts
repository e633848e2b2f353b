/**
 * The faultline command's checks that need no kernel: arguments, `validate` without --kernel,
 * `schema`, a missing libbpf. Left to the host by the VM matrix (test/vm/kernels.mjs KERNEL_FREE).
 */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { BIN, cli, tmpFile } from '../support/cli.js'

describe('arguments', () => {
  it('an unknown flag or a missing value prints the usage and exits 2, in every subcommand', () => {
    for (const args of [['doctor', '--jsn'], ['validate', '--kernl', 'x.yaml'], ['run', '--bogus', '-c', 'x', '--', 'true'], ['run', '-c'], ['schema', '--x']]) {
      const r = cli(...args)
      expect(r.status, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^faultline ${args[0]}: .*\\nusage: faultline ${args[0]} `))
    }
    const none = cli()
    expect(none.status).toBe(2)
    expect(none.stderr).toMatch(/run -c <config\.yaml> \[--quiet\] \[--json\]/)
    expect(cli('nope').status).toBe(2)
    expect(cli('--help').stdout).toMatch(/validate \[--kernel\]/)
  })
})

describe('faultline validate', () => {
  it('prints each field error as file:line:column: path: message', () => {
    const bad = tmpFile('pos.yaml', 'syscalls:\n  - name: db\n    syscall: connect\n    errno: ECONNREFUSED\n    match:\n      port: 70000\n    mtach: {}\n')
    const r = cli('validate', bad)
    expect(r.status).toBe(1)
    expect(r.stderr).toContain(`${bad}:6:13: syscalls[0].match.port: must be an integer 1..65535, got 70000`)
    expect(r.stderr).toContain(`${bad}:7:5: syscalls[0].mtach: unknown key; did you mean match?`)
  })

  it('refuses past the kernel maps\' limits, an interface name and a host name by syntax, naming the field', () => {
    const rules = Array.from({ length: 65 }, (_, i) => `  - { name: r${i}, syscall: connect, errno: EPERM }`).join('\n')
    const r = cli('validate', tmpFile('65.yaml', `syscalls:\n${rules}\n`))
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/65\.yaml:66:5: syscalls\[64\]: a config holds at most 64 syscall rules; this one has 65/)
    const net = cli('validate', tmpFile('net.yaml', 'network:\n  - { name: n, action: drop, interface: "eth0/1", hosts: [-bad.example] }\n'))
    expect(net.status).toBe(1)
    expect(net.stderr).toMatch(/network\[0\]\.interface: "eth0\/1" is not an interface name/)
    expect(net.stderr).toMatch(/network\[0\]\.hosts\[0\]: "-bad\.example" is not a host name/)
  })

  it('schema prints the JSON Schema that @faultline/core ships', () => {
    const r = cli('schema')
    expect(r.status).toBe(0)
    const shipped = fileURLToPath(new URL('../../packages/core/dist/faultline.schema.json', import.meta.url))
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(fs.readFileSync(shipped, 'utf8')))
  })

  it('--run reads a config as `faultline run` does: a delay rule of the default scope is refused for a test, fine for run', () => {
    const delay = tmpFile('delay.yaml', 'syscalls:\n  - name: slow\n    syscall: openat\n    delay: 100ms\n')
    const asTest = cli('validate', delay)
    expect(asTest.status).toBe(1)
    expect(asTest.stderr).toMatch(/syscalls\[0\]\.delay: would stop the calling process itself/)
    const asRun = cli('validate', '--run', delay)
    expect(asRun.stderr).toBe('')
    expect(asRun.status).toBe(0)
    // and --run keeps every other check
    const bad = tmpFile('delay-bad.yaml', 'syscalls:\n  - name: slow\n    syscall: openat\n    delay: 100 parsecs\n')
    const r = cli('validate', '--run', bad)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/syscalls\[0\]\.delay/)
  })

  it('accepts a good config and rejects a bad one naming the field', () => {
    const good = tmpFile('good.yaml', 'syscalls:\n  - name: db\n    syscall: connect\n    errno: ECONNREFUSED\n')
    const bad = tmpFile('bad.yaml', 'syscalls:\n  - name: db\n    syscall: connect\n    errno: ECONREFUSED\n')
    expect(cli('validate', good).status).toBe(0)
    const r = cli('validate', bad)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/syscalls\[0\]\.errno.*ECONNREFUSED/)
  })
})

describe('without libbpf', () => {
  it('says which package to install', () => {
    const r = spawnSync(process.execPath, [BIN, 'doctor'], { encoding: 'utf8', env: { ...process.env, FAULTLINE_LIBBPF: '/nonexistent/libbpf.so.1' } })
    expect(r.status).toBe(1)
    expect(r.stdout + r.stderr).toMatch(/cannot load \/nonexistent\/libbpf\.so\.1.*apt-get install libbpf1/s)
  })
})
