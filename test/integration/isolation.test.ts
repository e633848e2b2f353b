/**
 * What the kernel holds before, during and after: bad configs attach nothing, a SIGKILLed
 * test process leaves nothing behind, and two armed processes never see each other's faults.
 * These run the built package (dist/) in child processes, as a user's test worker would.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { withFailureConfig, ConfigError, FaultlineUnsupportedError } from '../../packages/core/src/index.js'
import { startServer, tryConnect, type Server } from '../support/net.js'
import { bpfIdsOf, survivors } from '../support/kernel-view.js'
import { skipBecause, skipUnless, requires } from '../support/requires.js'
import { BAD_CONFIGS } from '../fixtures/bad-configs.js'

const SLEEPER = fileURLToPath(new URL('../fixtures/armed-sleeper.mjs', import.meta.url))
let a: Server
let b: Server
beforeAll(async () => {
  a = await startServer()
  b = await startServer()
})
afterAll(async () => {
  await a.close()
  await b.close()
})

interface Armed {
  child: ChildProcess
  pid: number
  /** Asks the armed process to connect to `port`; resolves to 'ok' or the errno code. */
  connect(port: number): Promise<string>
}

async function spawnArmed(config: unknown): Promise<Armed> {
  const child = spawn(process.execPath, [SLEEPER, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  const waiters: ((l: string) => void)[] = []
  let buf = ''
  child.stdout!.on('data', (d: Buffer) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      const w = waiters.shift()
      if (w) w(line)
      else lines.push(line)
    }
  })
  const next = () => new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : waiters.push(resolve)))
  const hello = JSON.parse(await next()) as { pid: number }
  return {
    child,
    pid: hello.pid,
    connect(port) {
      child.stdin!.write(`${port}\n`)
      return next()
    },
  }
}


describe('nothing attached on refusal', () => {
  // Every kind of bad config the unit tests know, plus one bad rule among good ones (all or nothing).
  const oneBadAmongGood = { syscalls: [{ name: 'ok', syscall: 'connect', errno: 'ECONNREFUSED' }, { name: 'bad', syscall: 'connect', errno: -5 }] }
  for (const [what, cfg] of [...BAD_CONFIGS.map(([w, c]) => [w, c] as const), ['one bad rule among good ones', oneBadAmongGood] as const]) {
    it(`bad config (${what}) is rejected with ConfigError and attaches nothing`, async () => {
      const before = bpfIdsOf()
      await expect(withFailureConfig(cfg as never, async () => 1)).rejects.toBeInstanceOf(ConfigError)
      expect(bpfIdsOf().links).toEqual(before.links)
      expect(bpfIdsOf().progs).toEqual(before.progs)
    })
  }

  it('a rule no mechanism serves here is refused with the reason, attaching nothing', async (ctx) => {
    // getppid passes no LSM hook and no socket hook: only syscall-entry mechanisms serve it.
    if (!requires('fmod-ret-syscall') || !requires('kprobe-override')) {
      skipBecause(ctx, 'this kernel can fail any syscall; the refusal path runs on the other kernels')
    }
    const before = bpfIdsOf()
    const err = await withFailureConfig(
      { syscalls: [{ name: 'ok', syscall: 'connect', errno: 'ECONNREFUSED' }, { name: 'no-such-file', syscall: 'getppid', errno: 'EPERM' }] },
      async () => 1,
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FaultlineUnsupportedError)
    expect((err as Error).message).toMatch(/syscalls\[1\] \(no-such-file\)/)
    expect((err as FaultlineUnsupportedError).rules.map((r) => r.name)).toEqual(['no-such-file'])
    expect(bpfIdsOf().links).toEqual(before.links)
    expect(await tryConnect(a.port)).toBe('ok')
  })
})

describe('across processes', () => {
  it('SIGKILL while armed leaves no faultline program, link or map behind', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const armed = await spawnArmed({ syscalls: [{ name: 'x', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: a.port } }] })
    expect(await armed.connect(a.port)).toBe('ECONNREFUSED')
    const held = bpfIdsOf(armed.pid)
    expect(held.links.length).toBeGreaterThan(0)
    expect(held.progs.length).toBeGreaterThan(0)
    armed.child.kill('SIGKILL')
    await new Promise((r) => armed.child.on('close', r))
    expect(await survivors(held)).toEqual({ progs: [], maps: [], links: [] })
  })

  it('two processes armed at the same time see only their own faults', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const one = await spawnArmed({ syscalls: [{ name: 'a-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: a.port } }] })
    const two = await spawnArmed({ syscalls: [{ name: 'b-down', syscall: 'connect', errno: 'EHOSTUNREACH', match: { port: b.port } }] })
    try {
      expect(await one.connect(a.port)).toBe('ECONNREFUSED')
      expect(await one.connect(b.port)).toBe('ok')
      expect(await two.connect(a.port)).toBe('ok')
      expect(await two.connect(b.port)).toBe('EHOSTUNREACH')
      expect(await tryConnect(a.port)).toBe('ok') // and this process is in neither tree
      expect(await tryConnect(b.port)).toBe('ok')
    } finally {
      one.child.kill()
      two.child.kill()
    }
  })
})
