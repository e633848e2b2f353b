/**
 * Attack: a `tc` (or ip, getent, sh, unshare) placed first in PATH, as `npm test` puts every
 * node_modules/.bin there, would run with faultline's CAP_NET_ADMIN. faultline runs its helpers
 * by absolute path from the system directories: the impostors are never run, and the real rule
 * still works.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { kernelLock } from '../support/kernel-lock.js'
import { skipBecause, skipUnless, skipUnlessAny } from '../support/requires.js'
import { BIN, CORE, attackPlace, attackUnavailable, privateNetns, runNode, worldReadableDir } from './attacker.js'

const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 600_000)
afterAll(tcLock.release)

const IMPOSTORS = ['tc', 'ip', 'getent', 'sh', 'unshare']
/** Shaping (tc, ip), a host name (getent), and the qdisc probes of a fresh process (sh, unshare). */
const SHAPING = { target: { scope: 'children' }, network: [{ name: 'bw', action: 'bandwidth', rate: '1mbit', direction: 'egress', protocol: 'udp', port: 9, hosts: ['localhost'], interface: 'lo' }] }

let ns: ReturnType<typeof privateNetns>
let env: NodeJS.ProcessEnv
let remove = () => {}
let bin: string
let marker: string
beforeAll(() => {
  if (attackUnavailable()) return
  // A directory another user could write (here: world-readable, as node_modules/.bin is to its owner), first in PATH.
  bin = worldReadableDir('fl-sec-path-')
  marker = path.join(bin, 'ran')
  for (const name of IMPOSTORS) fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${marker}\nexit 1\n`, { mode: 0o755 })
  ;({ ns, env, remove } = attackPlace('path', { ...process.env, PATH: `${bin}:${process.env.PATH}` }))
})
afterAll(() => {
  remove()
  if (bin) fs.rmSync(bin, { recursive: true, force: true })
})

describe('helper programs placed first in PATH', { timeout: 120_000 }, () => {
  it('are never run; the shaping rule is set up by the real tc all the same', async (ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    skipUnless(ctx, 'htb', 'cgroup-sockaddr', 'tp_btf')
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    // the impostors do run when called through this PATH: the check below is not vacuous
    expect(spawnSync('tc', ['-V'], { env }).status).toBe(1)
    fs.rmSync(marker, { force: true })
    const script = `
const { execFileSync } = await import('node:child_process')
const { withFailureConfig } = await import(${JSON.stringify(CORE)})
const during = await withFailureConfig(${JSON.stringify(SHAPING)}, () => execFileSync('/usr/sbin/tc', ['qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' }))
console.log(JSON.stringify({ during }))`
    const r = runNode<{ during: string }>(ns.wrap, script, env)
    expect(r.during).toMatch(/^qdisc htb fa17: root/m)
    expect(fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '').toBe('')
  })

  it('`faultline doctor` names the absolute paths it uses, and runs no impostor either', async (ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    fs.rmSync(marker, { force: true })
    const [cmd, ...args] = [...ns.wrap, process.execPath, BIN, 'doctor', '--json']
    const r = spawnSync(cmd!, args, { encoding: 'utf8', env, timeout: 120_000 })
    const report = JSON.parse(r.stdout) as { helpers: Record<string, string | null> }
    for (const name of IMPOSTORS) {
      expect(report.helpers[name], name).toMatch(new RegExp(`^/(usr/)?s?bin/${name}$`))
    }
    expect(fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '').toBe('')
  })
})
