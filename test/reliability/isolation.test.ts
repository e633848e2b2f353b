/**
 * Isolation: 8 processes arm different configs at the same time, 1000 arm/disarm cycles each,
 * and every call is checked: each process's own rule fails its own calls with its own errno,
 * never another process's calls, and nothing after disarm; a bystander that never armed sees
 * no fault at all.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { startServer, type Server } from '../support/net.js'
import { skipUnless } from '../support/requires.js'
import { CORE, FIXTURES, lineReader, recordFigures, scaled } from './support.js'

const PROCESSES = 8
const CYCLES = scaled(1000, 20)
const ERRNOS = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EACCES', 'EPERM', 'EADDRNOTAVAIL', 'ECONNRESET']
let servers: Server[] = []
beforeAll(async () => {
  servers = await Promise.all(Array.from({ length: PROCESSES }, () => startServer()))
})
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10
}

describe('isolation', () => {
  it(`${PROCESSES} processes, ${CYCLES} cycles each, every call checked; a bystander sees nothing`, async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const ports = servers.map((s) => s.port)
    const env = { ...process.env, FAULTLINE_CORE: CORE }
    const bystander = spawn(process.execPath, [path.join(FIXTURES, 'bystander.mjs'), JSON.stringify(ports)], { env, stdio: ['pipe', 'pipe', 'inherit'] })
    const bystanderOut = lineReader(bystander.stdout!)
    const started = Date.now()
    const results = await Promise.all(
      Array.from({ length: PROCESSES }, async (_, index) => {
        const p = spawn(process.execPath, [path.join(FIXTURES, 'iso-worker.mjs'), JSON.stringify({ index, ports, errnos: ERRNOS, cycles: CYCLES })], { env, stdio: ['ignore', 'pipe', 'inherit'] })
        const line = await lineReader(p.stdout!).next(3_000_000)
        return JSON.parse(line) as { checked: number; wrong: string[]; cycleMs: number[] }
      }),
    )
    const seconds = Math.round((Date.now() - started) / 1000)
    bystander.stdin!.end()
    const by = JSON.parse(await bystanderOut.next()) as { calls: number; wrong: string[] }
    const cycleMs = results.flatMap((r) => r.cycleMs)
    const wrong = results.flatMap((r, i) => r.wrong.map((w) => `process ${i}: ${w}`))
    recordFigures('isolation', {
      processes: PROCESSES, cycles: CYCLES, seconds,
      checkedCalls: results.reduce((a, r) => a + r.checked, 0), wrongCalls: wrong.length,
      bystanderCalls: by.calls, bystanderWrong: by.wrong.length,
      cycleMs: { median: quantile(cycleMs, 0.5), p99: quantile(cycleMs, 0.99) },
      firstWrong: [...wrong, ...by.wrong.map((w) => `bystander: ${w}`)].slice(0, 20),
    })
    expect(results.reduce((a, r) => a + r.checked, 0)).toBe(PROCESSES * CYCLES * 4)
    expect(by.calls).toBeGreaterThan(0)
    expect(wrong).toEqual([])
    expect(by.wrong).toEqual([])
  })
})
