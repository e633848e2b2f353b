/**
 * Inside a pid namespace (what a container gives), process.pid is not the number the kernel's
 * programs see. faultline learns its global tgid from the kernel (engine/identity.ts): the
 * caller's tree is hit, a bystander in the same namespace is not, and targets() speaks the
 * namespace's pids. The runner's namespace pid is forced (ns_last_pid) to the global pid of
 * `unshare`, an ancestor of every process in the namespace: with process.pid handed to the
 * kernel, the bystander would "descend" from the root and be failed too.
 */
import { describe, it, expect } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { FIXTURES } from '../support/net.js'
import { skipBecause, skipUnless } from '../support/requires.js'

const CORE = path.resolve('packages/core/dist/index.js')
const DIR = path.join(FIXTURES, 'pidns')

describe('in a pid namespace', () => {
  it('fails the caller and its child, not a bystander of the namespace; targets() in namespace pids', (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    if (spawnSync('unshare', ['--version']).status !== 0) return skipBecause(ctx, 'requires unshare (util-linux)')
    const tmp = tempDir('fl-pidns-')
    const file = path.join(tmp, 'bystander')
    const port = 9
    // Inside: a bystander first, then the runner with its namespace pid set to unshare's global pid ($PPID of ns init is 0, so pass it).
    const script = `
      node ${DIR}/udp-connect.cjs ${port} --on SIGUSR1 ${file} &
      while [ ! -f ${file}.ready ]; do sleep 0.05; done
      echo $((UNSHARE_PID - 1)) > /proc/sys/kernel/ns_last_pid
      node ${DIR}/runner.mjs ${CORE} ${port} $(cat ${file}.ready) ${file}
      wait`
    const r = spawnSync('sh', ['-c', `UNSHARE_PID=$$ exec unshare --pid --fork --mount-proc sh -c '${script.replace(/'/g, `'\\''`)}'`], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, UNSHARE_PID: '' },
    })
    fs.rmSync(tmp, { recursive: true, force: true })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      pid: number; own: string; child: string; bystander: string; targets: number[]; fired: number
    }
    // the runner's namespace pid is the global pid of unshare, an ancestor of everything inside
    expect(out.pid).toBeGreaterThan(2)
    expect(out.own).toBe('ECONNREFUSED')
    expect(out.child).toBe('ECONNREFUSED')
    expect(out.bystander).toBe('ok')
    expect(out.fired).toBe(2)
    expect(out.targets).toEqual([out.pid]) // the child has exited; pids are the namespace's
  })
})
