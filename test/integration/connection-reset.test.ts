/**
 * Connection resets (network rules with action 'reset'), with real traffic on lo: a targeted
 * child downloads from a server in this process, which is not a target, so its own connections
 * to the same server are the bystanders. The child reports what its socket saw.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { withFailureConfig, FaultlineUnsupportedError } from '../../packages/core/src/index.js'
import { FIXTURES, runJson } from '../support/net.js'
import { RESET_CODES, SEGMENT, downloadHere as fromHere, waitingDownload as fromChild } from '../support/download.js'
import { kernelLock } from '../support/kernel-lock.js'
import { has, skipUnless } from '../support/requires.js'
// @ts-expect-error: a plain .mjs helper of the example, without types
import { startPostgres } from '../../examples/postgres-service/postgres.mjs'

const children = { scope: 'children' as const }
const THREE = path.join(FIXTURES, 'three-connections.mjs')
const BODY = Buffer.alloc(4 << 20, 'x')

let server: http.Server
let port: number
const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 1_200_000)
afterAll(tcLock.release)
beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.socket.on('error', () => {})
    if (req.url === '/slow') {
      // 1 KB every 20 ms until the client goes away.
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      const t = setInterval(() => res.write(Buffer.alloc(1024, 'y')), 20)
      res.on('close', () => clearInterval(t))
      return
    }
    res.writeHead(200, { 'content-length': BODY.length })
    res.end(BODY)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as net.AddressInfo).port
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))
const waitingDownload = (urlPath: string) => fromChild(port, urlPath)
const downloadHere = (urlPath: string, stopAfterMs?: number) => fromHere(port, urlPath, stopAfterMs)

describe('connection resets (action reset)', { timeout: 120_000 }, () => {
  // it.for, not it.each: only it.for hands the test context (for a skip) to the function.
  it.for([
    { after_bytes: 1_000_000 },
    { after_bytes: 200_000, direction: 'ingress' as const },
  ])('an HTTP download is cut after %o, give or take one segment; a bystander download completes', async (extra, ctx) => {
    skipUnless(ctx, 'sock-destroy', 'cgroup-sockaddr')
    const full = await downloadHere('/') // headers + body, measured outside any window
    expect(full.code).toBeNull()
    const child = await waitingDownload('/')
    const { seen, bystander, fired } = await withFailureConfig(
      { target: children, network: [{ name: 'cut', action: 'reset', port, ...extra }] },
      async (f) => {
        const [seen, bystander] = await Promise.all([child.go(), downloadHere('/')])
        return { seen, bystander, fired: f.fired('cut') }
      },
    )
    expect(RESET_CODES, JSON.stringify(seen)).toContain(seen.code)
    expect(seen.bytes).toBeGreaterThanOrEqual(extra.after_bytes)
    expect(seen.bytes).toBeLessThan(extra.after_bytes + SEGMENT)
    expect(fired).toBe(1)
    expect(bystander).toMatchObject({ code: null, bytes: full.bytes })
  })

  it('when.nth: 2 resets the second matching connection only; the first and third, and a bystander, complete', async (ctx) => {
    skipUnless(ctx, 'sock-destroy', 'cgroup-sockaddr')
    const pong = net.createServer((s) => s.on('error', () => {}).on('data', () => s.end('pong')))
    await new Promise<void>((r) => pong.listen(0, '127.0.0.1', r))
    const p = (pong.address() as net.AddressInfo).port
    try {
      const { seen, bystander, stats } = await withFailureConfig({ target: children, network: [{ name: 'second', action: 'reset', port: p, when: { nth: 2 } }] }, async (f) => {
        const [seen, bystander] = await Promise.all([runJson<string[]>(process.execPath, [THREE, String(p), '--timeout', '30000']), downloadHere('/')])
        return { seen, bystander, stats: f.stats().second! }
      })
      expect(seen[0]).toBe('ok')
      expect(RESET_CODES, JSON.stringify(seen)).toContain(seen[1])
      expect(seen[2]).toBe('ok')
      expect(stats).toMatchObject({ eligible: 3, fired: 1 })
      expect(bystander.code).toBeNull()
    } finally {
      pong.close()
    }
  })

  it('with when.after, resets at about that time (times the child reports)', async (ctx) => {
    skipUnless(ctx, 'sock-destroy', 'cgroup-sockaddr')
    const AFTER = 3000
    // How late the reset may come: the poller's period plus a loaded machine's scheduling (TCG,
    // two busy cores). The bystander keeps downloading past it, so it outlives any accepted reset.
    const LATE = 8000
    const child = await waitingDownload('/slow')
    const before = Date.now() // arming happens after this, so the reset cannot come before before + AFTER
    const { seen, bystander, start, fired } = await withFailureConfig(
      { target: children, network: [{ name: 'later', action: 'reset', port, when: { after: `${AFTER}ms` } }] },
      async (f) => {
        const start = Date.now()
        const [seen, bystander] = await Promise.all([child.go(), downloadHere('/slow', AFTER + LATE + 1500)])
        return { seen, bystander, start, fired: f.fired('later') }
      },
    )
    const why = JSON.stringify({ seen, before, start })
    expect(RESET_CODES, why).toContain(seen.code)
    expect(seen.connectedAt, why).toBeLessThan(before + AFTER) // the connection was open when the time came
    expect(seen.bytes, why).toBeGreaterThan(0)
    expect(seen.endedAt, why).toBeGreaterThanOrEqual(before + AFTER)
    expect(seen.endedAt, why).toBeLessThan(start + AFTER + LATE)
    expect(fired).toBe(1)
    // The bystander kept receiving after the target's reset, until it hung up itself.
    expect(bystander.code).toBeNull()
    expect(bystander.lastDataAt).toBeGreaterThan(seen.endedAt)
  })

  describe('PostgreSQL', () => {
    let db: { port: number; stop(): void } | undefined
    beforeAll(async () => {
      if (has('sock-destroy')) db = await startPostgres() // initdb takes minutes under emulation
    }, 600_000)
    afterAll(() => db?.stop())

    it('a query through pg sees a reset connection; a bystander query completes', { timeout: 300_000 }, async (ctx) => {
      skipUnless(ctx, 'sock-destroy', 'cgroup-sockaddr')
      const pg = await import('pg')
      const dbPort = db!.port
      const sql = "SELECT repeat('x', 1000) FROM generate_series(1, 3000)" // ~3 MB of rows
      const { seen, rows, fired } = await withFailureConfig(
        { target: children, network: [{ name: 'db-cut', action: 'reset', port: dbPort, after_bytes: 300_000 }] },
        async (f) => {
          const here = new pg.default.Client({ host: '127.0.0.1', port: dbPort, user: 'postgres', database: 'postgres' })
          await here.connect()
          const [seen, res] = await Promise.all([
            runJson<{ rows: number | null; code: string | null; message: string | null }>(process.execPath, [path.join(FIXTURES, 'pg-query.cjs'), String(dbPort), sql]),
            here.query(sql),
          ])
          await here.end()
          return { seen, rows: res.rowCount, fired: f.fired('db-cut') }
        },
      )
      expect(seen.rows, JSON.stringify(seen)).toBeNull()
      expect(RESET_CODES, JSON.stringify(seen)).toContain(seen.code)
      expect(rows).toBe(3000)
      expect(fired).toBe(1)
    })
  })

  it('is refused, naming bpf_sock_destroy, where the kernel lacks it (and arms where it has it)', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr')
    const cfg = { target: children, network: [{ name: 'cut', action: 'reset' as const, port, after_bytes: 1 }] }
    if (has('sock-destroy')) {
      await expect(withFailureConfig(cfg, (f) => f.fired('cut'))).resolves.toBe(0)
    } else {
      const err = await withFailureConfig(cfg, () => 0).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(FaultlineUnsupportedError)
      expect((err as Error).message).toMatch(/network\[0\].*cut.*bpf_sock_destroy/s)
    }
  })
})
