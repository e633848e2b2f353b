/**
 * Pid reuse: a target exits and an unrelated process is given its pid (ns_last_pid in a new pid
 * namespace, where the pids are ours to choose). No fault may pass to the unrelated process:
 * targets are tracked by the kernel's exit tracepoint, not by a pid list that could go stale.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { startServer, type Server } from '../support/net.js'
import { skipUnless } from '../support/requires.js'
import { CORE, FIXTURES, recordFigures, scaled } from './support.js'

const ROUNDS = scaled(50, 5)
let server: Server
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

describe('pid reuse', () => {
  it(`${ROUNDS} times, a target's pid given to an unrelated process: no fault passes to it`, async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, path.join(FIXTURES, 'pid-reuse-ns.mjs'), String(server.port), String(ROUNDS)], {
      encoding: 'utf8', env: { ...process.env, FAULTLINE_CORE: CORE }, timeout: 600_000,
    })
    const last = r.stdout.trim().split('\n').pop() ?? ''
    if (!last.startsWith('{')) throw new Error(`the namespace's run exited ${r.status}: ${r.stdout}${r.stderr}`)
    const res = JSON.parse(last) as { rounds: { target: number; targetResult: string; unrelated: number; unrelatedResult: string }[]; fired: number }
    const reused = res.rounds.filter((x) => x.unrelated === x.target)
    recordFigures('pid-reuse', {
      rounds: ROUNDS,
      reused: reused.length,
      targetRefused: res.rounds.filter((x) => x.targetResult === 'EHOSTUNREACH').length,
      faultedUnrelated: res.rounds.filter((x) => x.unrelatedResult !== 'ok').length,
      fired: res.fired,
    })
    expect(res.rounds.map((x) => x.targetResult)).toEqual(res.rounds.map(() => 'EHOSTUNREACH'))
    expect(reused.length).toBe(ROUNDS) // the pid really was reused each round
    expect(res.rounds.map((x) => x.unrelatedResult)).toEqual(res.rounds.map(() => 'ok'))
    expect(res.fired).toBe(ROUNDS)
  })
})
