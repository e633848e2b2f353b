/**
 * Network faults run by an unprivileged user holding only CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN
 * (as the README promises), in a private network namespace. The process holds them the way a
 * node binary given them with setcap does: not in its ambient set, so the tc/ip helper processes
 * faultline runs for shaping inherit nothing unless faultline passes CAP_NET_ADMIN on.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { FIXTURES } from '../support/net.js'
import { kernelLock } from '../support/kernel-lock.js'
import { skipBecause, skipUnless, skipUnlessAny } from '../support/requires.js'
import { inView, nobodyCommand } from '../support/unprivileged.js'

const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 1_200_000) // under emulation the other tc files hold it for minutes
afterAll(tcLock.release)

interface Outcome<T> { error?: string; message?: string; received?: number; fired?: number; qdisc?: boolean; _?: T }
interface Result {
  uid: number
  ownCapEff: string
  childCapEff: string
  drop: Outcome<'drop'>
  dropAfter: number
  shaping: Outcome<'shaping'>
  qdiscAfter: boolean
}

/** Runs test/fixtures/caps-net.mjs as nobody with exactly these capabilities, in a fresh network namespace. */
function asNobody(caps: string[]): Result {
  const ns = `fl-caps-${process.pid}`
  const state = tempDir('fl-caps-state-')
  fs.chownSync(state, 65534, 65534) // nobody's own: faultline refuses a state directory others can write
  execSync(`ip netns add ${ns} && ip netns exec ${ns} ip link set lo up`)
  try {
    const [setpriv, args] = nobodyCommand(caps.map((c) => `+${c}`).join(','), [process.execPath, inView(path.join(FIXTURES, 'caps-net.mjs')), '47011'], { bounding: true })
    const r = spawnSync('ip', [
      'netns', 'exec', ns, 'sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$@"', setpriv, ...args,
    ], { encoding: 'utf8', env: { ...process.env, FAULTLINE_STATE_DIR: state }, timeout: 120_000 })
    const last = r.stdout.trim().split('\n').pop() ?? ''
    if (!last.startsWith('{')) throw new Error(`caps-net.mjs exited ${r.status}: ${r.stdout}${r.stderr}`)
    return JSON.parse(last) as Result
  } finally {
    execSync(`ip netns del ${ns}`)
    fs.rmSync(state, { recursive: true, force: true })
  }
}

const hasSetpriv = () => spawnSync('setpriv', ['--version']).status === 0

describe('network faults with capabilities only (nobody + CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)', { timeout: 180_000 }, () => {
  it('drop and shaping work; the tc helper gets CAP_NET_ADMIN although children inherit nothing', (ctx) => {
    if (!hasSetpriv()) return skipBecause(ctx, 'requires setpriv (util-linux) to drop to nobody with chosen capabilities')
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    skipUnless(ctx, 'cgroup-sockaddr', 'htb')
    const r = asNobody(['bpf', 'perfmon', 'net_admin'])
    expect(r.uid).toBe(65534)
    expect(BigInt(`0x${r.ownCapEff}`)).toBe((1n << 39n) | (1n << 38n) | (1n << 12n))
    expect(r.childCapEff).toBe('0000000000000000')
    expect(r.drop).toEqual({ received: 0, fired: 10 })
    expect(r.dropAfter).toBe(10)
    expect(r.shaping).toEqual({ received: 10, fired: 10, qdisc: true })
    expect(r.qdiscAfter).toBe(false)
  })

  it('without CAP_NET_ADMIN, arming is refused naming it, never as a missing kernel feature', (ctx) => {
    if (!hasSetpriv()) return skipBecause(ctx, 'requires setpriv (util-linux) to drop to nobody with chosen capabilities')
    const r = asNobody(['bpf', 'perfmon'])
    for (const o of [r.drop, r.shaping]) {
      expect(o.error).toBe('FaultlineUnsupportedError')
      expect(o.message).toMatch(/CAP_NET_ADMIN/)
      expect(o.message).not.toMatch(/not supported/)
    }
  })
})
