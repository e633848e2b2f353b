/**
 * Explore on the real kernel: `faultline explore` and exploreFailures fail each matching connect
 * in turn (cgroup connect4 here) of a C and a Python client that handle a refusal of their first
 * and third connect but not of the second. Rules on the mechanisms this host lacks (openat through a
 * syscall mechanism, corrupted reads) are in explore-mechanisms.test.ts, which the VM kernels run.
 */
import { describe, it, expect, beforeAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { skipUnless } from '../support/requires.js'
import { exploreFailures, ExploreCensusError } from '../../packages/core/src/explore/index.js'
import { observeArmings } from '../../packages/core/src/engine/armings.js'
import { observeExplorations } from '../../packages/core/src/explore/observe.js'

const CLI = fileURLToPath(new URL('../../packages/core/dist/cli/main.js', import.meta.url))
const PY = fileURLToPath(new URL('../fixtures/three-connects.py', import.meta.url))
const THREE = fileURLToPath(new URL('../fixtures/three-connections.mjs', import.meta.url))
const dir = tempDir('fl-explore-')
const C_BIN = path.join(dir, 'three-connects')
const SITES_BIN = path.join(dir, 'call-sites')
const run = promisify(execFile)

beforeAll(() => {
  // -O0: at -O2 GCC may turn the NULL write into a trap (SIGILL) instead of a SIGSEGV.
  execFileSync('cc', ['-O0', '-o', C_BIN, fileURLToPath(new URL('../fixtures/three-connects.c', import.meta.url))])
  execFileSync('cc', ['-O0', '-o', SITES_BIN, fileURLToPath(new URL('../fixtures/call-sites.c', import.meta.url))])
})

/** A port nothing listens on now (the fixtures listen on it themselves). */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as net.AddressInfo
  await new Promise((r) => s.close(r))
  return port
}

const refuse = (port: number) => ({ syscalls: [{ name: 'refuse', syscall: 'connect', errno: 'ECONNREFUSED', match: { port } }] })
function configFile(text: string): string {
  const f = path.join(fs.mkdtempSync(path.join(dir, 'c-')), 'faults.yaml')
  fs.writeFileSync(f, text)
  return f
}
const refuseYaml = (port: number) => configFile(`syscalls:\n  - name: refuse\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: ${port} }\n`)
const explore = (...args: string[]) => spawnSync(process.execPath, [CLI, 'explore', ...args], { encoding: 'utf8', timeout: 280_000 })

interface Json {
  census: Record<string, number>
  runs: { rule: string; nth: number; fired: number; outcome: string; exitCode: number | null; signal: string | null; ms: number; config: unknown; site?: { index: number; calls: number; frames: string[] } }[]
  skipped: number
  by: string
  byCall?: Record<string, string>
}
/** The --json report, or a failure that shows what the command said instead. */
function report(r: ReturnType<typeof explore>): Json {
  try {
    return JSON.parse(r.stdout) as Json
  } catch {
    throw new Error(`faultline explore printed no JSON report (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}): ${r.stderr.slice(-2000)}`)
  }
}
const brief = (j: Json) => j.runs.map(({ rule, nth, fired, outcome, exitCode, signal }) => ({ rule, nth, fired, outcome, exitCode, signal }))

describe('faultline explore', { timeout: 120_000 }, () => {
  it('--json: a C client that crashes on the second refused connect: nth 2 crashed (SIGSEGV), 1 and 3 handled', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const r = explore('--json', '-c', refuseYaml(port), '--timeout', '30s', '--', C_BIN, String(port))
    const j = report(r)
    expect(j.census).toEqual({ refuse: 3 })
    expect(brief(j)).toEqual([
      { rule: 'refuse', nth: 1, fired: 1, outcome: 'handled', exitCode: 0, signal: null },
      { rule: 'refuse', nth: 2, fired: 1, outcome: 'crashed', exitCode: null, signal: 'SIGSEGV' },
      { rule: 'refuse', nth: 3, fired: 1, outcome: 'handled', exitCode: 0, signal: null },
    ])
    expect(j.runs[1]!.config).toEqual({ target: { scope: 'children' }, syscalls: [{ ...refuse(port).syscalls[0], when: { nth: 2 } }] })
    expect(r.stderr).toMatch(/2\/3\s+refuse\s+2\s+crashed\s+SIGSEGV/) // the table, on stderr beside --json
    expect(r.status).toBe(1) // a run crashed
  })

  it('a network reset rule: k is the k-th connection; a Node client aborting on the second reset: census 3, nth 2 crashed (SIGABRT), 1 and 3 handled', async (ctx) => {
    skipUnless(ctx, 'sock-destroy', 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const yaml = configFile(`network:\n  - name: cut\n    action: reset\n    port: ${port}\n`)
    const r = explore('--json', '-c', yaml, '--timeout', '60s', '--', process.execPath, THREE, String(port), '--listen', '--crash-on', '2')
    const j = report(r)
    expect(j.census).toEqual({ cut: 3 })
    expect(brief(j)).toEqual([
      { rule: 'cut', nth: 1, fired: 1, outcome: 'handled', exitCode: 0, signal: null },
      { rule: 'cut', nth: 2, fired: 1, outcome: 'crashed', exitCode: null, signal: 'SIGABRT' },
      { rule: 'cut', nth: 3, fired: 1, outcome: 'handled', exitCode: 0, signal: null },
    ])
    expect(j.runs[1]!.config).toEqual({ target: { scope: 'children' }, network: [{ name: 'cut', action: 'reset', port, when: { nth: 2 } }] })
    expect(r.stderr).not.toMatch(/not explored/)
    expect(r.status).toBe(1)
  })

  it('prints the table and, for each run not handled, the config that reproduces it under `faultline run`', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const r = explore('-c', refuseYaml(port), '--', C_BIN, String(port))
    expect(r.stdout).toMatch(/census: refuse matched 3x/)
    expect(r.stdout).toMatch(/1\/3\s+refuse\s+1\s+handled\s+exit 0\s+1/)
    expect(r.stdout).toMatch(/3\/3\s+refuse\s+3\s+handled\s+exit 0\s+1/)
    const repro = /refuse nth 2: crashed \(SIGSEGV\); reproduce with:\n((?: {2}.*\n?)+)/.exec(r.stdout)
    expect(repro, r.stdout).not.toBeNull()
    const yaml = repro![1]!.split('\n').filter((l) => l && !l.trimStart().startsWith('#')).map((l) => l.slice(2)).join('\n')
    const again = spawnSync(process.execPath, [CLI, 'run', '--quiet', '-c', configFile(yaml), '--', C_BIN, String(port)], { encoding: 'utf8', timeout: 60_000 })
    expect(again.status, again.stderr).toBe(128 + os.constants.signals.SIGSEGV)
  })

  it('a Python client: the second refusal is an uncaught exception, nth 2 failed (exit 1)', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const r = explore('--json', '-c', refuseYaml(port), '--', 'python3', PY, String(port))
    const j = report(r)
    expect(j.census).toEqual({ refuse: 3 })
    expect(brief(j).map((x) => [x.nth, x.outcome, x.exitCode, x.fired])).toEqual([[1, 'handled', 0, 1], [2, 'failed', 1, 1], [3, 'handled', 0, 1]])
    expect(r.status).toBe(0) // failed is an outcome a test may want: only crashed and hung make explore exit 1
  })

  it('--max-runs caps the runs and counts the rest as skipped', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const j = report(explore('--json', '--max-runs', '2', '-c', refuseYaml(port), '--', C_BIN, String(port)))
    expect(j.runs.map((x) => x.nth)).toEqual([1, 2])
    expect(j.skipped).toBe(1)
  })

  it('a call that does not happen again is not-reached (the census is not deterministic)', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    // Connects three times on its first run, once on every later run.
    const marker = path.join(fs.mkdtempSync(path.join(dir, 'm-')), 'ran')
    const script = `import os, socket\nn = 1 if os.path.exists(${JSON.stringify(marker)}) else 3\nopen(${JSON.stringify(marker)}, 'w').close()\nfor _ in range(n):\n    try: socket.create_connection(('127.0.0.1', ${port}))\n    except OSError: pass\n`
    const j = report(explore('--json', '-c', refuseYaml(port), '--', 'python3', '-c', script))
    expect(j.census).toEqual({ refuse: 3 })
    expect(brief(j).map((x) => [x.nth, x.outcome, x.fired])).toEqual([[1, 'handled', 1], [2, 'not-reached', 0], [3, 'not-reached', 0]])
  })

  it('a delayed call past --timeout is hung: the command is killed with its process group', { timeout: 300_000 }, async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'send-signal')
    const file = path.join(fs.mkdtempSync(path.join(dir, 'd-')), 'data.txt')
    fs.writeFileSync(file, 'x')
    const cfg = configFile(`syscalls:\n  - name: slow-open\n    syscall: openat\n    delay: 60s\n    match: { path: ${file} }\n`)
    const tag = `fl-explore-hung-${process.pid}`
    const reader = `python3 -c "open('${file}').read(); open('${file}').read()" ${tag}`
    // --timeout must pass the census run (nothing delayed): 3 s here, more where Python starts
    // slowly (seconds under TCG), measured from the reader run once unarmed.
    const t0 = Date.now()
    expect(spawnSync('sh', ['-c', reader]).status).toBe(0)
    const timeout = Math.min(45, Math.ceil((3000 + 5 * (Date.now() - t0)) / 1000)) // below the delay (60 s, its limit)
    // A child that outlives the shell would hold on past the run: the group kill ends it too.
    const script = `python3 -c 'import time; time.sleep(300)' ${tag}-bg & exec ${reader}`
    const r = explore('--json', '-c', cfg, '--timeout', `${timeout}s`, '--', 'sh', '-c', script)
    const j = report(r)
    expect(j.census).toEqual({ 'slow-open': 2 })
    expect(brief(j).map((x) => [x.nth, x.outcome, x.fired])).toEqual([[1, 'hung', 1], [2, 'hung', 1]])
    expect(r.status).toBe(1)
    expect(spawnSync('pgrep', ['-f', tag]).stdout.toString()).toBe('')
  })

  it('stops when the census run (nothing failed) does not exit 0', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = explore('-c', refuseYaml(9), '--', 'sh', '-c', 'echo broken >&2; exit 4')
    expect(r.stderr).toMatch(/the census run \(no call failed\) exited with 4; explore needs a command that passes when nothing fails\nbroken/)
    expect(r.status).toBe(3)
  })

  it('--by site: a loop of 20 identical connects is one run, the unchecked connect after it another (crashed)', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const r = explore('--json', '--by', 'site', '-c', refuseYaml(port), '--timeout', '30s', '--', SITES_BIN, 'connect', String(port), '20')
    const j = report(r)
    expect(j.census).toEqual({ refuse: 21 })
    expect(j.by).toBe('site')
    expect(j.runs.map(({ nth, fired, outcome, signal, site }) => ({ nth, fired, outcome, signal, site: [site?.index, site?.calls] }))).toEqual([
      { nth: 1, fired: 1, outcome: 'handled', signal: null, site: [1, 20] },
      { nth: 21, fired: 1, outcome: 'crashed', signal: 'SIGSEGV', site: [2, 1] },
    ])
    expect(j.runs[1]!.site!.frames.length).toBeGreaterThan(0)
    expect(r.stderr).toMatch(/sites: refuse 2 site\(s\)/)
    expect(r.status).toBe(1)
  })

  it('--by site on a delay rule (send-signal): the open loop and the open after it are two sites', async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'send-signal')
    const file = path.join(fs.mkdtempSync(path.join(dir, 'd-')), 'data.txt')
    fs.writeFileSync(file, 'x')
    const cfg = configFile(`syscalls:\n  - name: slow\n    syscall: openat\n    delay: 5ms\n    match: { path: ${JSON.stringify(file)} }\n`)
    const j = report(explore('--json', '--by', 'site', '-c', cfg, '--timeout', '30s', '--', SITES_BIN, 'open', file, '5'))
    expect(j.census).toEqual({ slow: 6 })
    expect(j.runs.map((x) => [x.nth, x.outcome, x.fired, x.site?.calls])).toEqual([[1, 'handled', 1, 5], [6, 'handled', 1, 1]])
  })

  it('--by site with a Python client: every call is its own run, and the report says why', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const r = explore('--json', '--by', 'site', '-c', refuseYaml(port), '--timeout', '60s', '--', 'python3', PY, String(port))
    const j = report(r)
    expect(j.runs.map((x) => [x.nth, x.outcome])).toEqual([[1, 'handled'], [2, 'failed'], [3, 'handled']])
    expect(j.byCall?.refuse).toMatch(/python3, whose native stack is the interpreter's/)
    expect(r.stderr).toMatch(/refuse is explored call by call: its calls come from python3/)
  })

  it('usage errors exit 2 and the help lists explore', () => {
    const badBy = explore('-c', refuseYaml(9), '--by', 'line', '--', 'true')
    expect(badBy.stderr).toMatch(/--by line: must be call \(every matching call\) or site/)
    expect(badBy.status).toBe(2)
    expect(spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).stdout).toMatch(/^ {2}explore -c <config.yaml> \[--json\] \[--max-runs N\] \[--timeout D\] \[--by call\|site\] -- <command>/m)
    const noCmd = explore('-c', refuseYaml(9))
    expect(noCmd.stderr).toMatch(/no command given/)
    expect(noCmd.status).toBe(2)
    expect(explore('-c', refuseYaml(9), '--max-runs', '0', '--', 'true').status).toBe(2)
    expect(explore('-c', refuseYaml(9), '--timeout', 'soon', '--', 'true').status).toBe(2)
  })
})

describe('exploreFailures', { timeout: 120_000 }, () => {
  it('a C child: nth 2 crashed (SIGSEGV, from the rejection), 1 and 3 handled, each fired once', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const report = await exploreFailures(refuse(port), () => run(C_BIN, [String(port)]))
    expect(report.census).toEqual({ refuse: 3 })
    expect(report.runs.map(({ nth, fired, outcome, exitCode, signal }) => ({ nth, fired, outcome, exitCode, signal }))).toEqual([
      { nth: 1, fired: 1, outcome: 'handled', exitCode: null, signal: null },
      { nth: 2, fired: 1, outcome: 'crashed', exitCode: null, signal: 'SIGSEGV' },
      { nth: 3, fired: 1, outcome: 'handled', exitCode: null, signal: null },
    ])
    expect(report.runs[1]!.error).toBeInstanceOf(Error)
  })

  it("by: 'site': a C child's loop of connects is one run, the unchecked connect another", async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const report = await exploreFailures(refuse(port), () => run(SITES_BIN, ['connect', String(port), '10']), { by: 'site' })
    expect(report.census).toEqual({ refuse: 11 })
    expect(report.by).toBe('site')
    expect(report.runs.map((r) => [r.nth, r.outcome, r.signal, r.site?.calls])).toEqual([[1, 'handled', null, 10], [11, 'crashed', 'SIGSEGV', 1]])
  })

  it('a Python child: nth 2 failed with exit 1 and the traceback in the error', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    const report = await exploreFailures(refuse(port), () => run('python3', [PY, String(port)]))
    expect(report.runs.map((r) => [r.nth, r.outcome, r.exitCode, r.fired])).toEqual([[1, 'handled', null, 1], [2, 'failed', 1, 1], [3, 'handled', null, 1]])
    expect((report.runs[1]!.error as Error).message).toMatch(/ConnectionRefusedError/)
  })

  it("the test's own code: the connect whose refusal escapes fails the run with its error", async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const server = net.createServer((s) => s.end())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const { port } = server.address() as net.AddressInfo
    const connect = () =>
      new Promise<void>((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve()))
        c.on('error', reject)
      })
    const armings: unknown[] = []
    const reports: unknown[] = []
    const stop = [observeArmings((h) => armings.push(h)), observeExplorations((r) => reports.push(r))]
    try {
      const report = await exploreFailures(refuse(port), async () => {
        await connect().catch(() => {}) // handled
        await connect() // not handled
        await connect().catch(() => {})
      })
      expect(report.runs.map((r) => [r.nth, r.outcome])).toEqual([[1, 'handled'], [2, 'failed'], [3, 'handled']])
      expect((report.runs[1]!.error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
      expect(armings).toEqual([]) // the runs are one exploration to reporters, not four armings
      expect(reports).toEqual([report])
    } finally {
      stop.forEach((s) => s())
      server.close()
    }
  })

  it('a network drop rule: only the packets of the k-th connection are dropped; a Node child aborting when the second times out', { timeout: 180_000 }, async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const port = await freePort()
    // A dropped SYN never answers: 5 s tells, and a loaded machine answers the others well within it.
    const report = await exploreFailures({ target: { scope: 'children' }, network: [{ name: 'blackhole', action: 'drop', protocol: 'tcp', port }] }, () =>
      run(process.execPath, [THREE, String(port), '--listen', '--timeout', '5000', '--crash-on', '2']),
    )
    expect(report.census).toEqual({ blackhole: 3 })
    expect(report.runs.map(({ nth, outcome, signal }) => ({ nth, outcome, signal }))).toEqual([
      { nth: 1, outcome: 'handled', signal: null },
      { nth: 2, outcome: 'crashed', signal: 'SIGABRT' },
      { nth: 3, outcome: 'handled', signal: null },
    ])
    for (const r of report.runs) expect(r.fired).toBeGreaterThanOrEqual(1) // packets: the SYN and its retransmissions
  })

  it('throws ExploreCensusError when fn rejects with nothing failed', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    await expect(exploreFailures(refuse(9), () => Promise.reject(new Error('broken anyway')))).rejects.toThrow(ExploreCensusError)
    await expect(exploreFailures(refuse(9), () => Promise.reject(new Error('broken anyway')))).rejects.toThrow(/census run \(no call failed\) rejected: broken anyway/)
  })
})
