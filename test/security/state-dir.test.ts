/**
 * What faultline reads and writes beside the kernel, and what another user could plant there:
 * the state directory (records that steer what a privileged sweep removes), its files, the
 * `faultline-<id>` cgroup directories the sweep removes, and the devices it judges by name.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readStateFile, stateEntries, untrustedDir, writeStateFile, ensureStateDir } from '../../packages/core/src/engine/state/dir.js'
import { sweepTargetCgroups } from '../../packages/core/src/engine/state/cgroups.js'
import { cgroup2Mount } from '../../packages/core/src/kernel/cgroup.js'
import { skipBecause } from '../support/requires.js'
import { AS_NOBODY, NOBODY, attackUnavailable, worldReadableDir } from './attacker.js'

const made: string[] = []
const tmp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  made.push(d)
  return d
}
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

/** Runs a command as uid 65534 (no capabilities). */
const asNobody = (...argv: string[]) => spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), ...argv], { encoding: 'utf8' })

/** Runs fn with FAULTLINE_STATE_DIR set to dir. */
function inStateDir<T>(dir: string, fn: () => T): T {
  const before = process.env.FAULTLINE_STATE_DIR
  process.env.FAULTLINE_STATE_DIR = dir
  try {
    return fn()
  } finally {
    if (before === undefined) delete process.env.FAULTLINE_STATE_DIR
    else process.env.FAULTLINE_STATE_DIR = before
  }
}

describe('the state directory', () => {
  it('one another user made (they could plant or swap records in it) is refused, naming its owner', (ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    const parent = worldReadableDir('fl-sec-state-')
    made.push(parent)
    fs.chmodSync(parent, 0o1777) // like /tmp: anyone may make an entry
    const dir = path.join(parent, 'faultline')
    expect(asNobody('mkdir', '-m', '0755', dir).status).toBe(0) // the attacker is first
    expect(() => inStateDir(dir, ensureStateDir)).toThrow(`refusing the state directory ${dir}: ${dir} belongs to uid ${NOBODY}`)
    expect(() => inStateDir(dir, () => writeStateFile('owner-8badf00d.json', '{}'))).toThrow(/refusing the state directory/)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('a group- or world-writable one, or one below a directory another user owns, is refused; a fresh 0700 one in /tmp is used', (ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    const open = tmp('fl-sec-open-')
    fs.chmodSync(open, 0o777)
    expect(untrustedDir(open)).toBe(`${open} is writable by others (mode 777)`)
    fs.chmodSync(open, 0o775)
    expect(untrustedDir(open)).toBe(`${open} is writable by its group (mode 775)`)
    const theirs = tmp('fl-sec-theirs-')
    fs.chownSync(theirs, NOBODY, NOBODY)
    const below = path.join(theirs, 'state')
    fs.mkdirSync(below, { mode: 0o755 }) // root's, but the user who owns its parent can rename it away
    expect(untrustedDir(below)).toBe(`${theirs} belongs to uid ${NOBODY}`)
    expect(untrustedDir(tmp('fl-sec-mine-'))).toBeUndefined()
  })

  it('records planted in a refused directory are not read at all', (ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    const dir = tmp('fl-sec-planted-')
    fs.writeFileSync(path.join(dir, 'owner-8badf00d.json'), '{"owner":"8badf00d","pid":1}')
    expect(inStateDir(dir, stateEntries)).toEqual(['owner-8badf00d.json'])
    fs.chmodSync(dir, 0o777)
    expect(inStateDir(dir, stateEntries)).toEqual([])
  })

  it('files are written to a fresh name and never read through a link', (ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    const dir = tmp('fl-sec-files-')
    const target = path.join(tmp('fl-sec-target-'), 'secret')
    fs.writeFileSync(target, 'not a record')
    fs.symlinkSync(target, path.join(dir, 'clsact-1-1'))
    expect(inStateDir(dir, () => readStateFile('clsact-1-1'))).toBeUndefined()
    // a link where the temporary file goes is replaced, not written through
    fs.symlinkSync(target, path.join(dir, `clsact-1-2.${process.pid}.tmp`))
    inStateDir(dir, () => writeStateFile('clsact-1-2', '8badf00d'))
    expect(fs.readFileSync(target, 'utf8')).toBe('not a record')
    expect(inStateDir(dir, () => readStateFile('clsact-1-2'))).toBe('8badf00d')
    expect(fs.lstatSync(path.join(dir, 'clsact-1-2')).isFile()).toBe(true)
  })
})

describe('names faultline judges by their prefix', () => {
  let parent: string | undefined
  afterAll(() => {
    if (!parent) return
    const dirs = fs.existsSync(parent) ? fs.readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory()) : []
    for (const d of dirs) fs.rmdirSync(path.join(parent, d.name))
    fs.rmdirSync(parent)
  })

  it('a faultline-<id> cgroup another user made in a subtree delegated to them is left alone by the sweep; a dead owner\'s is removed', (ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    const mount = cgroup2Mount()
    if (!mount) return skipBecause(ctx, 'requires cgroup v2: not mounted')
    parent = path.join(mount, `fl-sec-delegated-${process.pid}`)
    fs.mkdirSync(parent)
    fs.chownSync(parent, NOBODY, NOBODY) // delegated, as systemd delegates user@.service
    const theirs = path.join(parent, 'faultline-8badf00d')
    const ours = path.join(parent, 'faultline-8badf11d')
    expect(asNobody('mkdir', theirs).status).toBe(0)
    fs.mkdirSync(ours) // root's, of an owner with no token: dead
    const r = sweepTargetCgroups([parent])
    expect(r.removed.map((c) => c.where)).toEqual([ours])
    expect(fs.existsSync(theirs)).toBe(true)
  })

  it('an IFB device named like faultline\'s (flifb<id>) can be made only with CAP_NET_ADMIN, which the sweep trusts', (ctx) => {
    const why = attackUnavailable()
    if (why) return skipBecause(ctx, why)
    const r = asNobody('/usr/sbin/ip', 'link', 'add', 'flifb8badf00d', 'type', 'ifb')
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/Operation not permitted/)
  })
})
