/**
 * Syscall failures beyond socket calls, for every mechanism this kernel has (the VM matrix runs
 * each where it exists): a C program, a Python program and Node code (main thread and libuv
 * pool) see the configured errno on the configured calls only.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { withFailureConfig, predictSeededFailures, FaultlineUnsupportedError } from '../../packages/core/src/index.js'
import { runJson } from '../support/net.js'
import { requires, skipBecause, skipUnless, skipUnlessAny } from '../support/requires.js'
import type { Feature } from '../../packages/core/src/kernel/index.js'
import { kernelLock } from '../support/kernel-lock.js'
import { bpfIdsOf } from '../support/kernel-view.js'
import { AFTER_DELAYS_MS, judgeAfter, parseTimedCalls } from '../support/after.js'
import { tempDir } from '../support/temp-dir.js'

// Hooks syscall entries: not while another such file does (kernel-lock.ts says why).
const entryLock = kernelLock('syscall-entry')
beforeAll(entryLock.acquire, 600_000)
afterAll(entryLock.release)

const MECHANISMS = ['fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret'] as const
type Mech = (typeof MECHANISMS)[number]

const dir = tempDir('fl-sys-')
const FILES = path.join(dir, 'fl-files') // comm "fl-files"
const inside = path.join(dir, 'data', 'in')
const outside = path.join(dir, 'data', 'out')
const IN = path.join(inside, 'config.json')
const OUT = path.join(outside, 'config.json')
const GLOB = `${dir}/data/in/**`
const GO_OPEN = fileURLToPath(new URL('../fixtures/bin/go-open', import.meta.url)) // built by npm run build

beforeAll(() => {
  execFileSync('cc', ['-O2', '-pthread', '-o', FILES, fileURLToPath(new URL('../fixtures/files.c', import.meta.url))])
  fs.mkdirSync(inside, { recursive: true })
  fs.mkdirSync(outside, { recursive: true })
  fs.writeFileSync(IN, '{}')
  fs.writeFileSync(OUT, '{}')
})

/** An overlay mount (lower and upper on a tmpfs of their own: overlayfs refuses an upper dir on
 * overlayfs, which the VM guests' root is), made on first use and removed after the file. */
let overlay: string | undefined
function overlayMount(): string {
  if (overlay) return overlay
  const base = path.join(dir, 'ovl')
  fs.mkdirSync(base, { recursive: true })
  execFileSync('mount', ['-t', 'tmpfs', 'fl-ovl', base])
  for (const d of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(base, d))
  fs.writeFileSync(path.join(base, 'lower', 'config.json'), '{}')
  const merged = path.join(base, 'merged')
  execFileSync('mount', ['-t', 'overlay', 'fl-ovl', '-o', `lowerdir=${base}/lower,upperdir=${base}/upper,workdir=${base}/work`, merged])
  overlay = merged
  return merged
}
afterAll(() => {
  if (!overlay) return
  spawnSync('umount', [overlay])
  spawnSync('umount', [path.dirname(overlay)])
})

const openRule = (mechanism: Mech, extra: Record<string, unknown> = {}) => ({
  syscalls: [{ name: 'cfg', syscall: 'openat', errno: 'ENOENT', mechanism, match: { path: GLOB }, ...extra }],
})
const nodeOpen = (p: string) => {
  try {
    fs.closeSync(fs.openSync(p, 'r'))
    return 'ok'
  } catch (e) {
    return (e as NodeJS.ErrnoException).code
  }
}
const poolOpen = (p: string) => fs.promises.open(p).then(async (h) => (await h.close(), 'ok'), (e: NodeJS.ErrnoException) => e.code)
const py = (p: string) =>
  runJson('python3', ['-c', `import json,errno\nr=[]\nfor p in ${JSON.stringify([p])}:\n  try:\n    open(p).close(); r.append('ok')\n  except OSError as e:\n    r.append(errno.errorcode[e.errno])\nprint(json.dumps(r))`])

for (const mech of MECHANISMS) {
  describe(`through ${mech}`, () => {
    const need = (ctx: Parameters<typeof skipUnless>[0]) => skipUnless(ctx, mech as Feature)

    it('openat under a glob fails for C, Python, Go and Node (main thread and libuv pool); other paths open', async (ctx) => {
      need(ctx)
      await withFailureConfig(openRule(mech), async (faults) => {
        expect(await runJson(FILES, ['open', IN, '1'])).toEqual(['ENOENT'])
        expect(await runJson(FILES, ['open', OUT, '1'])).toEqual(['ok'])
        expect(await py(IN)).toEqual(['ENOENT'])
        expect(await py(OUT)).toEqual(['ok'])
        expect(await runJson(GO_OPEN, [IN])).toEqual(['ENOENT']) // Go's runtime: raw syscalls, no libc
        expect(await runJson(GO_OPEN, [OUT])).toEqual(['ok'])
        expect(nodeOpen(IN)).toBe('ENOENT')
        expect(nodeOpen(OUT)).toBe('ok')
        expect(await poolOpen(IN)).toBe('ENOENT')
        expect(faults.stats().cfg).toMatchObject({ mechanism: mech })
        expect(faults.fired('cfg')).toBe(5)
      })
      expect(nodeOpen(IN)).toBe('ok')
    })

    it('the 3rd write fails and the others succeed', async (ctx) => {
      need(ctx)
      const r = await withFailureConfig(
        { target: { scope: 'children', comm: ['fl-files'] }, syscalls: [{ name: 'w', syscall: 'write', errno: 'ENOSPC', mechanism: mech, when: { nth: 3 } }] },
        () => runJson(FILES, ['write', path.join(outside, 'w.txt'), '5']),
      )
      expect(r).toEqual(['ok', 'ok', 'ENOSPC', 'ok', 'ok'])
    })

    it('probability with a seed fails the same, predicted calls every time', async (ctx) => {
      need(ctx)
      const cfg = openRule(mech, { when: { probability: 0.3, seed: 42 } })
      const a = await withFailureConfig(cfg, () => runJson<string[]>(FILES, ['open', IN, '40']))
      const b = await withFailureConfig(cfg, () => runJson<string[]>(FILES, ['open', IN, '40']))
      expect(a).toEqual(b)
      expect(a.flatMap((r, i) => (r === 'ENOENT' ? [i] : []))).toEqual(predictSeededFailures(42, 0.3, 40))
    })

    it('after delays the first failure: calls before it by the clock of the child succeed, calls after it fail', async (ctx) => {
      need(ctx)
      // Retried with a longer `after` only when the machine was too busy for a surely-early call.
      for (const delayMs of AFTER_DELAYS_MS) {
        const earliest = process.hrtime.bigint()
        let latest = 0n
        const run = await withFailureConfig(openRule(mech, { when: { after: `${delayMs}ms` } }), async (faults) => {
          latest = process.hrtime.bigint()
          const r = parseTimedCalls(await runJson(FILES, ['open-until', IN, String(delayMs / 8), String(latest + BigInt((delayMs + 100) * 1e6))]))
          expect(faults.fired('cfg')).toBe(r.calls.filter((c) => c.result === 'ENOENT').length)
          return r
        })
        const verdict = judgeAfter(run.calls, { earliest, latest }, delayMs, 'ENOENT')
        expect(verdict.wrong).toEqual([])
        if (verdict.decided) return
      }
      throw new Error(`no run decided: the child's first call always came later than after=${AFTER_DELAYS_MS.at(-1)}ms`)
    })

    it('on an overlay mount (a container\'s root), when.nth counts opens and writes, not the hook passes of overlayfs\'s real file', async (ctx) => {
      need(ctx)
      const merged = overlayMount()
      const file = path.join(merged, 'config.json')
      const opens = await withFailureConfig(
        { target: { scope: 'children', comm: ['fl-files'] }, syscalls: [{ name: 'o', syscall: 'openat', errno: 'ENOENT', mechanism: mech, match: { path: `${merged}/**` }, when: { nth: 2 } }] },
        async (faults) => ({ calls: await runJson(FILES, ['open', file, '3']), fired: faults.fired('o') }),
      )
      expect(opens).toEqual({ calls: ['ok', 'ENOENT', 'ok'], fired: 1 })
      const writes = await withFailureConfig(
        { target: { scope: 'children', comm: ['fl-files'] }, syscalls: [{ name: 'w', syscall: 'write', errno: 'ENOSPC', mechanism: mech, when: { nth: 3 } }] },
        () => runJson(FILES, ['write', path.join(merged, 'w.txt'), '5']),
      )
      expect(writes).toEqual(['ok', 'ok', 'ENOSPC', 'ok', 'ok'])
    })

    it('pthreads of a target are hit', async (ctx) => {
      need(ctx)
      expect(await withFailureConfig(openRule(mech), () => runJson(FILES, ['threads', IN, '4']))).toEqual(['ENOENT', 'ENOENT', 'ENOENT', 'ENOENT'])
    })

    it('a process outside the tree is never hit', async (ctx) => {
      need(ctx)
      const out = path.join(dir, `unrelated-${mech}.json`)
      const go = path.join(dir, `go-${mech}`)
      spawnSync('sh', ['-c', `setsid sh -c 'while [ ! -e "${go}" ]; do sleep 0.05; done; "${FILES}" open "${IN}" 3 > "${out}"' >/dev/null 2>&1 </dev/null &`])
      await withFailureConfig(openRule(mech), async () => {
        fs.writeFileSync(go, '')
        const deadline = Date.now() + 20_000
        while (!(fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes(']')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      })
      expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(['ok', 'ok', 'ok'])
    })
  })
}

describe('filters that pick a mechanism', () => {
  it('match.flags fails only opens with those flags', async (ctx) => {
    skipUnlessAny(ctx, 'fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret')
    await withFailureConfig({ syscalls: [{ name: 'create', syscall: 'openat', errno: 'EROFS', match: { path: GLOB, flags: ['O_CREAT'] } }] }, async () => {
      expect(() => fs.writeFileSync(path.join(inside, 'new.txt'), 'x')).toThrow(/EROFS/)
      expect(nodeOpen(IN)).toBe('ok')
    })
  })

  it('match.fd fails writes only to files under a glob (fmod_ret on security_file_permission)', async (ctx) => {
    skipUnless(ctx, 'security-fmod-ret')
    await withFailureConfig(
      { target: { scope: 'children' }, syscalls: [{ name: 'disk-full', syscall: 'write', errno: 'ENOSPC', match: { fd: GLOB } }] },
      async (faults) => {
        expect(await runJson(FILES, ['write', path.join(inside, 'log.txt'), '2'])).toEqual(['ENOSPC', 'ENOSPC'])
        expect(await runJson(FILES, ['write', path.join(outside, 'log.txt'), '2'])).toEqual(['ok', 'ok'])
        expect(faults.stats()['disk-full']!.mechanism).toBe('security-fmod-ret')
      },
    )
  })

  it('where no mechanism can fail openat, arming is refused naming what would serve it', async (ctx) => {
    const present = (['fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret'] as const).filter((f) => !requires(f))
    if (present.length) skipBecause(ctx, `this kernel has ${present.join(', ')}: openat can be failed, the refusal runs on the kernels that cannot`)
    const err = await withFailureConfig(openRule(undefined as unknown as Mech), async () => 1).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FaultlineUnsupportedError)
    expect((err as Error).message).toMatch(/syscalls\[0\] \(cfg\): no mechanism on this kernel can fail openat \(lsm: .*security-fmod-ret: .*fmod-ret-syscall: .*kprobe-override: /)
  })
})

describe("Minderbinder's YAML, unchanged", () => {
  it('fails a named process anywhere on the machine, delay_ms counted from its exec', async (ctx) => {
    skipUnlessAny(ctx, 'fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret')
    const file = path.join(dir, 'minderbinder.yaml')
    for (const delayMs of AFTER_DELAYS_MS) {
      fs.writeFileSync(
        file,
        `agents_of_chaos:
  syscall:
    - name: break_files_openat
      syscall: openat
      ret_code: -2
      targets:
        - process_name: fl-files
      delay_ms: ${delayMs}
      failure_rate: 100
`,
      )
      const verdict = await withFailureConfig(file, async (faults) => {
        // The delay counts from the child's exec: after the spawn below, before its main().
        const earliest = process.hrtime.bigint()
        const deadline = earliest + BigInt((delayMs + 100) * 1e6)
        const r = parseTimedCalls(await runJson(FILES, ['open-until', OUT, String(delayMs / 8), String(deadline)]))
        expect(nodeOpen(OUT)).toBe('ok') // node is not fl-files
        expect(faults.fired('break_files_openat')).toBe(r.calls.filter((c) => c.result === 'ENOENT').length)
        return judgeAfter(r.calls, { earliest, latest: r.start }, delayMs, 'ENOENT')
      })
      expect(verdict.wrong).toEqual([])
      if (verdict.decided) return
    }
    throw new Error(`no run decided: the child's first call always came later than delay_ms ${AFTER_DELAYS_MS.at(-1)}`)
  })
})

describe('kprobe override beside a trampoline', () => {
  // Measured on fei-6.12: while another process has fmod_ret on __x64_sys_write, a kprobe on it
  // runs and counts a fired fault, but bpf_override_return is dropped and write() succeeds.
  it('is refused, naming the other program, while another process has fmod_ret on the same syscall', async (ctx) => {
    skipUnless(ctx, 'kprobe-override', 'fmod-ret-syscall')
    const sleeper = path.join(fileURLToPath(new URL('../fixtures', import.meta.url)), 'armed-sleeper.mjs')
    const other = spawn(process.execPath, [sleeper, JSON.stringify({ target: { scope: 'children' }, syscalls: [{ name: 'o', syscall: 'write', errno: 'EIO', mechanism: 'fmod-ret-syscall' }] })], { stdio: ['pipe', 'pipe', 'inherit'] })
    try {
      await new Promise((r) => other.stdout!.once('data', r))
      const before = bpfIdsOf()
      const cfg = { target: { scope: 'children' as const, comm: ['fl-files'] }, syscalls: [{ name: 'w', syscall: 'write', errno: 'ENOSPC', mechanism: 'kprobe-override' as const, when: { nth: 3 } }] }
      const err = await withFailureConfig(cfg, () => runJson(FILES, ['write', path.join(outside, 'k.txt'), '5'])).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(FaultlineUnsupportedError)
      expect(String(err)).toMatch(/syscalls\[0\] \(w\): kprobe-override on __x64_sys_write would not take effect: another BPF program \(link \d+, program \d+\) is attached to it with a trampoline/)
      expect(bpfIdsOf().links).toEqual(before.links)
      other.kill('SIGKILL')
      await new Promise((r) => other.on('close', r))
      // Once it is gone (the kernel frees a dead process's links lazily), the same rule arms and fails the 3rd write.
      const deadline = Date.now() + 10_000
      for (;;) {
        const r = await withFailureConfig(cfg, () => runJson(FILES, ['write', path.join(outside, 'k.txt'), '5'])).catch((e: unknown) => e)
        if (!(r instanceof FaultlineUnsupportedError) || Date.now() > deadline) {
          expect(r).toEqual(['ok', 'ok', 'ENOSPC', 'ok', 'ok'])
          break
        }
        await new Promise((res) => setTimeout(res, 200))
      }
    } finally {
      other.kill('SIGKILL')
    }
  })
})
