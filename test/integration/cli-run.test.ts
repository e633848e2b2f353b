/**
 * `faultline run`: a command under a config, its counters, its exit status, delays and a
 * system-wide rule. Its programs (cgroup connect, send-signal delays, exec tracking) are the
 * host's as every kernel's, and socket-faults and syscall-delay run them on each VM kernel: the
 * VM matrix leaves this file to the host (test/vm/kernels.mjs HOST_ONLY).
 */
import { describe, it, expect } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { skipUnless } from '../support/requires.js'
import { startServer } from '../support/net.js'
import { BIN, tmpFile } from '../support/cli.js'
import { tempDir } from '../support/temp-dir.js'

const CONNECT = fileURLToPath(new URL('../fixtures/connect.cjs', import.meta.url))
const LOOP = fileURLToPath(new URL('../fixtures/connect-loop.cjs', import.meta.url))

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
    const link = path.join(tempDir('fl-sys-'), 'flsysnode')
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
