/**
 * Owner records live in one state directory for every network namespace, but an owner's token
 * (its liveness) is seen only in its own namespace: a sweep must never take a live owner of
 * another namespace for dead and remove its record (the message naming a busy interface's
 * owner then lost its pid, seen when shaping tests ran in a namespace beside other armings).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { kernelLock } from '../support/kernel-lock.js'
import { FIXTURES } from '../support/net.js'
import { skipUnless } from '../support/requires.js'
import { watchProcess } from '../support/watch.js'

const BIN = fileURLToPath(new URL('../../packages/core/dist/cli/main.js', import.meta.url))
const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 600_000)
afterAll(tcLock.release)

describe('owner records of another network namespace', { timeout: 120_000 }, () => {
  it('a sweep here leaves a live owner of another namespace alone, and that namespace\'s sweep removes its record once it is dead', async (ctx) => {
    skipUnless(ctx, 'htb', 'cgroup-sockaddr', 'tp_btf')
    const ns = `fl-rec-${process.pid}`
    const state = tempDir('fl-rec-state-')
    const env = { ...process.env, FAULTLINE_STATE_DIR: state }
    execFileSync('ip', ['netns', 'add', ns])
    const inNs = ['nsenter', `--net=/run/netns/${ns}`]
    let sleeper: ReturnType<typeof spawn> | undefined
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'])
      const cfg = { target: { scope: 'children' }, network: [{ name: 'bw', action: 'bandwidth', rate: '1mbit', direction: 'egress', interface: 'lo' }] }
      sleeper = spawn(inNs[0]!, [...inNs.slice(1), process.execPath, path.join(FIXTURES, 'armed-sleeper.mjs'), JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'], env })
      const armed = watchProcess(sleeper, 'the armed sleeper in the namespace')
      const { owner } = JSON.parse(await armed.next()) as { owner: number }
      const record = path.join(state, `owner-${owner.toString(16).padStart(8, '0')}.json`)
      expect(JSON.parse(fs.readFileSync(record, 'utf8'))).toMatchObject({ netns: fs.statSync(`/run/netns/${ns}`).ino })

      const here = spawnSync(process.execPath, [BIN, 'cleanup'], { encoding: 'utf8', env })
      expect(here.status, here.stderr).toBe(0)
      expect(fs.existsSync(record), `the sweep of the root namespace removed a live owner's record: ${here.stdout}`).toBe(true)

      sleeper.kill('SIGKILL')
      await armed.exited
      const there = spawnSync(inNs[0]!, [...inNs.slice(1), process.execPath, BIN, 'cleanup'], { encoding: 'utf8', env })
      expect(there.status, there.stderr).toBe(0)
      expect(fs.existsSync(record)).toBe(false)
      expect(execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' })).not.toMatch(/htb/)
    } finally {
      sleeper?.kill('SIGKILL')
      spawnSync('ip', ['netns', 'del', ns])
      fs.rmSync(state, { recursive: true, force: true })
    }
  })
})
