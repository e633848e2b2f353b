/**
 * Attack: a faultline process dies while it shapes; an unprivileged user binds its owner token
 * (@faultline-owner-<id>, which /proc/net/unix shows every user) so that the sweep takes the
 * owner for alive and leaves its htb on the interface forever. A token held by anyone but a
 * privileged process counts as dead now: the sweep removes the real owner's objects.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { kernelLock } from '../support/kernel-lock.js'
import { tcState } from '../support/kernel-view.js'
import { skipBecause, skipUnless, skipUnlessAny } from '../support/requires.js'
import { BIN, attackPlace, attackUnavailable, privateNetns, squat } from './attacker.js'

const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 600_000)
afterAll(tcLock.release)

const SLEEPER = fileURLToPath(new URL('../fixtures/armed-sleeper.mjs', import.meta.url))
const SHAPING = { target: { scope: 'children' }, network: [{ name: 'bw', action: 'bandwidth', rate: '1mbit', direction: 'egress', protocol: 'udp', port: 9, interface: 'lo' }] }
const hex = (owner: number) => owner.toString(16).padStart(8, '0')

let ns: ReturnType<typeof privateNetns>
let env: NodeJS.ProcessEnv
let remove = () => {}
beforeAll(() => {
  if (!attackUnavailable()) ({ ns, env, remove } = attackPlace('token'))
})
afterAll(() => remove())

const htbOf = (owner: number) => new RegExp(`^qdisc htb fa17: dev lo root .*default 0x${hex(owner)}`, 'm').test(tcState(ns.name).qdiscs)

/** A root process in the namespace that arms SHAPING and sleeps; SIGKILLed, it leaves its htb behind. */
async function armedSleeper(): Promise<{ owner: number; kill(): Promise<void> }> {
  const [cmd, ...args] = [...ns.wrap, process.execPath, SLEEPER, JSON.stringify(SHAPING)]
  const proc = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'inherit'], env })
  const line = await new Promise<string>((resolve, reject) => {
    proc.stdout!.once('data', (d) => resolve(String(d)))
    proc.once('exit', (code) => reject(new Error(`the armed sleeper exited with ${code}`)))
  })
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  const kill = async () => {
    proc.kill('SIGKILL') // nsenter execs node: this is the faultline process
    await exited
  }
  return { owner: (JSON.parse(line) as { owner: number }).owner, kill }
}

const cleanup = () => {
  const [cmd, ...args] = [...ns.wrap, process.execPath, BIN, 'cleanup', '--json']
  const r = spawnSync(cmd!, args, { encoding: 'utf8', env, timeout: 60_000 })
  expect(r.status, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as { removed: { kind: string; where: string; owner: string }[]; errors: string[] }
}

describe('the owner token of a dead faultline process held by an unprivileged user', { timeout: 120_000 }, () => {
  it.for(['stream,dgram', 'dgram'] as const)('`faultline cleanup` removes the dead owner\'s htb all the same (squatted as %s)', async (kind, ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    skipUnless(ctx, 'htb', 'cgroup-sockaddr', 'tp_btf')
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    const s = await armedSleeper()
    expect(htbOf(s.owner)).toBe(true)
    // its token is a listening socket of root's: the live owner is not swept
    expect(cleanup().removed.filter((r) => r.owner === hex(s.owner))).toEqual([])
    await s.kill()
    const squatter = await squat(`faultline-owner-${hex(s.owner)}`, ns.wrap, kind)
    try {
      expect(htbOf(s.owner)).toBe(true) // not a link: it outlives its process
      const report = cleanup()
      expect(report.errors).toEqual([])
      expect(report.removed).toContainEqual({ kind: 'htb qdisc', where: 'lo', owner: hex(s.owner) })
      expect(htbOf(s.owner)).toBe(false)
    } finally {
      await squatter.stop()
    }
  })
})
