/**
 * Syscall latency (`delay:` rules, mechanism send-signal): a C child's calls return after the
 * delay, timed by the child itself; a process outside the tree doing the same calls is never
 * paused; what is stopped is resumed at disarm and when the arming process is SIGKILLed.
 */
import { describe, it, expect, beforeAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { withFailureConfig, validateConfig, ConfigError } from '../../packages/core/src/index.js'
import { skipUnless } from '../support/requires.js'

const dir = tempDir('fl-delay-')
const BIN = path.join(dir, 'fl-delay') // comm "fl-delay"
const DATA = path.join(dir, 'data', 'in.txt')
const OTHER = path.join(dir, 'other.txt')
const ARM_DELAY = fileURLToPath(new URL('../fixtures/arm-delay.mjs', import.meta.url))
const MS = 1_000_000
/** Slack for a loaded machine or a VM under TCG: a delayed call takes less than delay + this. */
const MARGIN_MS = 3000

beforeAll(() => {
  execFileSync('cc', ['-O2', '-static', '-o', BIN, fileURLToPath(new URL('../fixtures/delay.c', import.meta.url))])
  fs.mkdirSync(path.dirname(DATA), { recursive: true })
  fs.writeFileSync(DATA, 'x')
  fs.writeFileSync(OTHER, 'y')
})

const children = { scope: 'children', comm: ['fl-delay'] } as const

type Call = [result: string, before: string, after: string]
/** Runs the fixture as a child of this process; resolves with its exit code and output. */
function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(BIN, args)
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    c.on('close', (code) => resolve({ code, out }))
  })
}
const durationsMs = (out: string) => (JSON.parse(out).calls as Call[]).map(([, b, a]) => Number(BigInt(a) - BigInt(b)) / MS)

/** The state letter of a process in /proc (T = stopped), or undefined once it is gone. */
function state(pid: number): string | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3)
  } catch {
    return undefined
  }
}
async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('syscall latency (delay rules)', () => {
  it("a C child's reads each return after the delay, timed by the child; the counters say so", async (ctx) => {
    skipUnless(ctx, 'send-signal')
    const delay = 300
    await withFailureConfig({ target: children, syscalls: [{ name: 'slow-read', syscall: 'read', delay: `${delay}ms` }] }, async (faults) => {
      const { code, out } = await run(['read', DATA, '3'])
      expect(code).toBe(0)
      const d = durationsMs(out)
      expect(d).toHaveLength(3)
      for (const ms of d) {
        expect(ms).toBeGreaterThanOrEqual(delay)
        expect(ms).toBeLessThan(delay + MARGIN_MS)
      }
      expect(faults.stats()['slow-read']).toMatchObject({ mechanism: 'send-signal', fired: 3 })
    })
  })

  it('openat with a path glob and jitter: only the matching file is delayed, within delay +- jitter', async (ctx) => {
    skipUnless(ctx, 'send-signal')
    const [delay, jitter] = [400, 100]
    const cfg = { target: children, syscalls: [{ name: 'slow-open', syscall: 'openat', delay, jitter: `${jitter}ms`, match: { path: `${dir}/data/**` } }] }
    await withFailureConfig(cfg, async (faults) => {
      const slow = await run(['openat', DATA, '2'])
      const fast = await run(['openat', OTHER, '2'])
      for (const ms of durationsMs(slow.out)) {
        expect(ms).toBeGreaterThanOrEqual(delay - jitter)
        expect(ms).toBeLessThan(delay + jitter + MARGIN_MS)
      }
      // the other file: not counted, and each of its opens faster than any delayed one (as the child timed them)
      expect(Math.max(...durationsMs(fast.out))).toBeLessThan(Math.min(...durationsMs(slow.out)))
      expect(faults.fired('slow-open')).toBe(2)
    })
  })

  it('when: nth delays only that call', async (ctx) => {
    skipUnless(ctx, 'send-signal')
    await withFailureConfig({ target: children, syscalls: [{ name: 'second', syscall: 'read', delay: 300, when: { nth: 2 } }] }, async (faults) => {
      const d = durationsMs((await run(['read', DATA, '3'])).out)
      expect(d[1]).toBeGreaterThanOrEqual(300)
      // one call delayed, and it is the second: the others were faster (as the child timed them)
      expect(faults.stats()['second']).toMatchObject({ fired: 1 })
      expect(Math.max(d[0]!, d[2]!)).toBeLessThan(d[1]!)
    })
  })

  it('a process outside the tree doing the same reads is never paused', async (ctx) => {
    skipUnless(ctx, 'send-signal')
    const stop = path.join(dir, 'stop-bystander')
    const result = path.join(dir, 'bystander.json')
    // Started before arming, and orphaned (its shell exits): not a descendant of this process.
    const delayed: number[] = []
    spawnSync('sh', ['-c', `"${BIN}" loop "${DATA}" "${stop}" > "${result}" 2>&1 &`])
    await new Promise((r) => setTimeout(r, 100))
    await withFailureConfig({ target: children, syscalls: [{ name: 'slow-read', syscall: 'read', delay: 250 }] }, async (faults) => {
      const d = durationsMs((await run(['read', DATA, '2'])).out)
      for (const ms of d) expect(ms).toBeGreaterThanOrEqual(250)
      delayed.push(...d)
      await new Promise((r) => setTimeout(r, 300))
      expect(faults.fired('slow-read')).toBe(2)
    })
    fs.writeFileSync(stop, '')
    await until('the bystander to report', () => fs.existsSync(result) && fs.readFileSync(result, 'utf8').includes('}'))
    const by = JSON.parse(fs.readFileSync(result, 'utf8')) as { count: number; max_ns: number }
    expect(by.count).toBeGreaterThan(10)
    // its longest read is shorter than the shortest delayed one: never paused (250 ms) while the target was
    expect(by.max_ns / MS).toBeLessThan(Math.min(...delayed))
  })

  it('disarm resumes a process that is still stopped', async (ctx) => {
    skipUnless(ctx, 'send-signal')
    const delay = 20_000
    let child: ReturnType<typeof spawn> | undefined
    const done = await withFailureConfig({ target: children, syscalls: [{ name: 'long', syscall: 'read', delay }] }, async () => {
      child = spawn(BIN, ['read', DATA, '1'])
      let out = ''
      child.stdout!.on('data', (d) => (out += d))
      const closed = new Promise<{ code: number | null; out: () => string }>((r) => child!.on('close', (code) => r({ code, out: () => out })))
      await until('the child to stop', () => state(child!.pid!) === 'T')
      return { closed } // not the promise itself: withFailureConfig would wait for it, armed
    })
    const { code, out } = await done.closed
    expect(code).toBe(0)
    const [ms] = durationsMs(out())
    expect(ms).toBeLessThan(delay)
  })

  // its waits add up to more than the default 30 s (60 s for a start under emulation, 15 s to finish)
  it('a SIGKILL of the arming process while a target is stopped still resumes it, which then finishes', { timeout: 120_000 }, async (ctx) => {
    skipUnless(ctx, 'send-signal')
    const delay = 20_000
    const cfg = JSON.stringify({ target: children, syscalls: [{ name: 'long', syscall: 'read', delay }] })
    const arming = spawn(process.execPath, [ARM_DELAY, cfg, `"${BIN}" read "${DATA}" 1 & echo "pid=$!"; wait $!; echo "exit=$?"`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    arming.stdout!.on('data', (d) => (out += d))
    arming.stderr!.on('data', (d) => (err += d))
    await until('the target to start', () => /pid=\d+/.test(out), 60_000).catch((e) => {
      throw new Error(`${e.message}; stderr: ${err}`)
    })
    const pid = Number(/pid=(\d+)/.exec(out)![1])
    await until('the target to stop', () => state(pid) === 'T')
    arming.kill('SIGKILL')
    // The shell (reparented, not a target) reports the child's exit; stdout stays open until then.
    await until('the target to finish', () => /exit=\d+/.test(out), 15_000)
    expect(/exit=(\d+)/.exec(out)![1]).toBe('0')
    const [ms] = durationsMs(/\{"calls".*\}/.exec(out)![0])
    expect(ms).toBeLessThan(delay)
  })

  it("a delay rule on the caller's own process is refused, with the reason, unless scope is children", () => {
    const rule = { name: 'slow', syscall: 'read', delay: '200ms' }
    let err: unknown
    try {
      validateConfig({ syscalls: [rule] })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).issues).toEqual([expect.objectContaining({ path: 'syscalls[0].delay', message: expect.stringMatching(/stop the calling process itself.*scope: 'children'/) })])
    expect(() => validateConfig({ target: { scope: 'children' }, syscalls: [rule] })).not.toThrow()
  })
})

describe('the README example of syscall latency', () => {
  it('runs as it is and its Python child sees the delayed open', (ctx) => {
    skipUnless(ctx, 'send-signal')
    const readme = fs.readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
    const section = readme.slice(readme.indexOf('### Syscall latency'))
    const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!.replace("'@faultline/core'", JSON.stringify(fileURLToPath(new URL('../../packages/core/dist/index.js', import.meta.url))))
    const file = path.join(dir, 'readme-example.mjs')
    fs.writeFileSync(file, code)
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 120_000 })
    expect(r.status, r.stderr).toBe(0)
    const took = Number(/open took ([\d.]+) s/.exec(r.stdout)?.[1])
    expect(took).toBeGreaterThanOrEqual(0.15)
    expect(took).toBeLessThan(0.25 + MARGIN_MS / 1000)
    expect(r.stdout.trim().split('\n').pop()).toBe('1')
  })
})
