/**
 * A process that entered a network namespace with setns (nsenter --net, no new mount namespace)
 * still sees the sysfs of the namespace it came from. faultline asks the kernel for the
 * interfaces instead (kernel/netdev.ts), so it acts on the namespace it runs in: devices that
 * exist only there are found, and the original namespace's are not taken for its own.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { skipUnless } from '../support/requires.js'
import { kernelLock } from '../support/kernel-lock.js'

const ARM_ONCE = fileURLToPath(new URL('../fixtures/arm-once.mjs', import.meta.url))
const LINK_WATCH = fileURLToPath(new URL('../fixtures/link-watch.mjs', import.meta.url))
const NETNS = `fl-enter-${process.pid}`
const ONLY_THERE = 'flonlythere0'
/** An interface of this namespace that the entered one lacks: made here (a VM has lo only; a veth pair, as dummy is not built everywhere), left down. */
const ONLY_HERE = `flhere${process.pid % 100000}`

// Its armings use cls_bpf in another network namespace but the same state directory
// (/run/faultline): their owner and clsact records would show in the views of files that compare
// that directory before and after (isolation.test.ts did, once, on debian-6.1).
const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 600_000)
afterAll(tcLock.release)

beforeAll(() => {
  execFileSync('ip', ['netns', 'add', NETNS])
  execFileSync('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up'])
  execFileSync('ip', ['-n', NETNS, 'link', 'add', ONLY_THERE, 'type', 'veth', 'peer', 'name', `${ONLY_THERE}p`])
  execFileSync('ip', ['-n', NETNS, 'link', 'set', `${ONLY_THERE}p`, 'up'])
  execFileSync('ip', ['-n', NETNS, 'link', 'set', ONLY_THERE, 'up'])
  execFileSync('ip', ['link', 'add', ONLY_HERE, 'type', 'veth', 'peer', 'name', `${ONLY_HERE}p`])
})
afterAll(() => {
  spawnSync('ip', ['netns', 'del', NETNS])
  spawnSync('ip', ['link', 'del', ONLY_HERE])
})

/** cls_bpf, whose filters `tc filter show` lists (tcx links it does not). */
const dropOn = (iface: string) => ({ target: { scope: 'children' }, network: [{ name: 'd', action: 'drop', protocol: 'udp', port: 9, interface: iface, mechanism: 'cls-bpf' }] })

/** Arms in the namespace through nsenter (sysfs stays the caller's) and runs `during` while armed. */
function armThere(config: object, during = '') {
  return spawnSync('nsenter', [`--net=/run/netns/${NETNS}`, process.execPath, ARM_ONCE, JSON.stringify(config), during], { encoding: 'utf8' })
}

describe('arming after nsenter --net', { timeout: 300_000 }, () => {
  it('acts on the entered namespace\'s interfaces, not on those its stale /sys shows', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf', 'cls-bpf')
    // The entered namespace's device: found, and the programs really sit on it while armed.
    const r = armThere(dropOn(ONLY_THERE), `tc filter show dev ${ONLY_THERE} egress`)
    expect(r.status, r.stderr).toBe(0)
    const { during } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { during: string }
    expect(during).toMatch(/bpf .*direct-action/)
    const r2 = armThere(dropOn(ONLY_HERE))
    expect(r2.status).not.toBe(0)
    expect(r2.stderr).toContain(`${ONLY_HERE}: no such interface`)
  })

  it('under `ip netns exec`, whose fresh /sys hides the cgroup2 mount, arming is refused saying so', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const cgroup2 = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1]
    expect(cgroup2).toMatch(/^\/sys\//) // where every distribution mounts it, and this machine
    const r = spawnSync('ip', ['netns', 'exec', NETNS, process.execPath, ARM_ONCE, JSON.stringify(dropOn('lo'))], { encoding: 'utf8' })
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain('no cgroup v2 mount in /proc/mounts')
    expect(r.stderr).toContain('`ip netns exec` mounts a fresh /sys without it')
  })
})

describe('the interface list kept between armings', { timeout: 120_000 }, () => {
  it('is listed again exactly when the kernel reports a link change: an interface added, brought up, losing its carrier, brought down, renamed, removed', () => {
    // In this file's namespace: the changes touch no interface the rest of the suite uses.
    const r = spawnSync('nsenter', [`--net=/run/netns/${NETNS}`, process.execPath, LINK_WATCH], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const steps = Object.fromEntries((JSON.parse(r.stdout) as { label: string; devs: string[]; reads: number }[]).map((s) => [s.label, s]))
    const has = (label: string, dev: string) => steps[label]!.devs.includes(dev)
    // listed once, then served from memory while nothing changes
    expect(steps.first!.reads).toBe(1)
    expect([steps.again!.reads, steps['and again']!.reads, steps.unchanged!.reads, steps['unchanged at the end']!.reads]).toEqual([0, 0, 0, 0])
    expect(steps.first!.devs).toContain(`${ONLY_THERE}+`)
    // every change is seen at the next listing
    expect([has('after add', 'flva-'), has('after add', 'flvb-')]).toEqual([true, true])
    expect([has('after up', 'flva+'), has('after up', 'flvb+')]).toEqual([true, true])
    expect(has('after the peer went down', 'flva-')).toBe(true) // its peer down: no carrier
    expect([has('after rename', 'flvc-'), steps['after rename']!.devs.some((d) => d.startsWith('flva'))]).toEqual([true, false])
    expect(steps['after del']!.devs.filter((d) => d.startsWith('flv'))).toEqual([])
    for (const label of ['after add', 'after up', 'after the peer went down', 'after down', 'after rename', 'after del']) expect(steps[label]!.reads, label).toBeGreaterThanOrEqual(1)
  })
})
