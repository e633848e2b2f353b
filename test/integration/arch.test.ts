/**
 * One test per mechanism with Node processes only: what depends on the architecture works on
 * this one. The syscall numbers come from its table (arm64 has no open or unlink, only openat
 * and unlinkat), the path, flags and fd filters read the arguments from its saved registers
 * (x86-64 di/si/dx..., arm64 orig_x0/regs[1..5]), the corrupt rules' fexit programs attach to
 * this architecture's syscall functions (__x64_sys_read, __arm64_sys_read...), and the BPF
 * objects are the ones built for process.arch. The arm64 VM kernel runs this file as its suite
 * (test/vm/kernels.mjs: its userland has Node but no compiler, Python or x86-64 Go binary);
 * every other kernel runs it too.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import crypto from 'node:crypto'
import dgram from 'node:dgram'
import fs from 'node:fs'
import http from 'node:http'
import type net from 'node:net'
import path from 'node:path'
import { withFailureConfig, validateConfig, predictCorruption, applyCorruption } from '../../packages/core/src/index.js'
import { syscallTable } from '../../packages/core/src/config/syscalls.js'
import { bpfObjectPath } from '../../packages/core/src/paths.js'
import { FIXTURES, runJson, startServer, tryConnect } from '../support/net.js'
import { RESET_CODES, SEGMENT, downloadHere, waitingDownload } from '../support/download.js'
import { ANSWER_A, startResolver } from '../support/dns.js'
import { skipUnless, skipUnlessAny } from '../support/requires.js'
import { kernelLock } from '../support/kernel-lock.js'

const IO = path.join(FIXTURES, 'node-io.mjs')
const io = <T = string[]>(...args: (string | number)[]) => runJson<T>(process.execPath, [IO, ...args.map(String)])
const children = { scope: 'children' as const }
const arm64 = process.arch === 'arm64'
// Node's fs.unlinkSync: unlink(2) on x86-64, unlinkat(2) on arm64 (asm-generic has no unlink).
const UNLINK = arm64 ? 'unlinkat' : 'unlink'

// Real path: corrupt rules match the path bpf_d_path resolves.
const dir = fs.realpathSync(tempDir('fl-arch-'))
const inside = path.join(dir, 'in')
const outside = path.join(dir, 'out')
const GLOB = `${inside}/**`

// Hooks syscall entries and adds tc programs: not beside the files that do the same.
const entryLock = kernelLock('syscall-entry')
const tcLock = kernelLock('tc')
beforeAll(entryLock.acquire, 600_000)
beforeAll(tcLock.acquire, 600_000)
afterAll(() => (tcLock.release(), entryLock.release()))
beforeAll(() => {
  fs.mkdirSync(inside, { recursive: true })
  fs.mkdirSync(outside, { recursive: true })
  for (const d of [inside, outside]) fs.writeFileSync(path.join(d, 'config.json'), '{}')
})
// Node children start slowly under the VM matrix's emulation (arm64 on x86-64: several seconds).
const SLOW = { timeout: 180_000 }

// The title names no architecture: CI matches a case the host skipped with the same case run on arm64
// (summarize.mjs --ran-somewhere); the report says which machine ran it.
describe('this architecture', SLOW, () => {
  it('loads the BPF objects built for it, and its syscall table', () => {
    expect(bpfObjectPath('sock')).toContain(`${path.sep}bpf${path.sep}${process.arch}${path.sep}sock.bpf.o`)
    expect(() => bpfObjectPath('sock', 'ia32')).toThrow(/unsupported architecture "ia32": BPF objects are built for x64 and arm64 only/)
    expect(syscallTable().openat).toBe(arm64 ? 56 : 257)
    expect(Object.hasOwn(syscallTable(), 'open')).toBe(!arm64)
    const openRule = () => validateConfig({ syscalls: [{ name: 'o', syscall: 'open', errno: 'ENOENT' }] })
    if (arm64) expect(openRule).toThrow(/syscalls\[0\]\.syscall: "open" does not exist on arm64/)
    else expect(openRule).not.toThrow()
  })

  it('cgroup: connect is refused for a child, not for this process', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr')
    const server = await startServer()
    try {
      await withFailureConfig({ target: children, syscalls: [{ name: 'down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: server.port } }] }, async (f) => {
        expect(await runJson(process.execPath, [path.join(FIXTURES, 'connect.cjs'), String(server.port), '2'])).toEqual(['ECONNREFUSED', 'ECONNREFUSED'])
        expect(await tryConnect(server.port)).toBe('ok')
        expect(f.stats().down).toMatchObject({ mechanism: 'cgroup', fired: 2 })
      })
    } finally {
      await server.close()
    }
  })

  for (const mechanism of ['lsm', 'security-fmod-ret'] as const) {
    describe(`through ${mechanism}`, () => {
      it('openat under a path glob fails; other paths open', async (ctx) => {
        skipUnless(ctx, mechanism)
        await withFailureConfig({ target: children, syscalls: [{ name: 'cfg', syscall: 'openat', errno: 'ENOENT', mechanism, match: { path: GLOB } }] }, async (f) => {
          expect(await io('open', path.join(inside, 'config.json'), 'r', 2)).toEqual(['ENOENT', 'ENOENT'])
          expect(await io('open', path.join(outside, 'config.json'), 'r')).toEqual(['ok'])
          expect(f.stats().cfg).toMatchObject({ mechanism, fired: 2 })
        })
        expect(await io('open', path.join(inside, 'config.json'), 'r')).toEqual(['ok'])
      })

      it('match.flags (read from the syscall arguments) fails only opens with O_CREAT', async (ctx) => {
        skipUnless(ctx, mechanism)
        await withFailureConfig(
          { target: children, syscalls: [{ name: 'create', syscall: 'openat', errno: 'EROFS', mechanism, match: { path: GLOB, flags: ['O_CREAT'] } }] },
          async (f) => {
            expect(await io('open', path.join(inside, 'new.json'), 'w')).toEqual(['EROFS'])
            expect(await io('open', path.join(inside, 'config.json'), 'r')).toEqual(['ok'])
            expect(f.fired('create')).toBe(1)
          },
        )
      })

      it(`unlink (unlinkat where the architecture has no unlink) under a glob (the path read from the syscall arguments) fails; others succeed`, async (ctx) => {
        skipUnless(ctx, mechanism)
        for (const d of [inside, outside]) fs.writeFileSync(path.join(d, 'victim'), '')
        await withFailureConfig({ target: children, syscalls: [{ name: 'rm', syscall: UNLINK, errno: 'EBUSY', mechanism, match: { path: GLOB } }] }, async (f) => {
          expect(await io('unlink', path.join(inside, 'victim'))).toEqual(['EBUSY'])
          expect(await io('unlink', path.join(outside, 'victim'))).toEqual(['ok'])
          expect(f.stats().rm).toMatchObject({ mechanism, fired: 1 })
        })
        expect(fs.existsSync(path.join(inside, 'victim'))).toBe(true)
        expect(fs.existsSync(path.join(outside, 'victim'))).toBe(false)
      })
    })
  }

  it('match.fd fails writes only to files under a glob (security-fmod-ret)', async (ctx) => {
    skipUnless(ctx, 'security-fmod-ret')
    await withFailureConfig({ target: children, syscalls: [{ name: 'full', syscall: 'write', errno: 'ENOSPC', match: { fd: GLOB } }] }, async (f) => {
      expect(await io('write', path.join(inside, 'log.txt'), 2)).toEqual(['ENOSPC', 'ENOSPC'])
      expect(await io('write', path.join(outside, 'log.txt'), 2)).toEqual(['ok', 'ok'])
      expect(f.stats().full).toMatchObject({ mechanism: 'security-fmod-ret', fired: 2 })
    })
  })

  it('tcx: a 100 % egress drop stops a child\'s datagrams and not this process\'s', async (ctx) => {
    skipUnless(ctx, 'tcx', 'cgroup-sockaddr')
    const rx = dgram.createSocket('udp4')
    let received = 0
    rx.on('message', () => received++)
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r))
    const port = rx.address().port
    const settle = () => new Promise((r) => setTimeout(r, 300))
    try {
      await withFailureConfig({ target: children, network: [{ name: 'blackhole', action: 'drop', mechanism: 'tcx', direction: 'egress', protocol: 'udp', port }] }, async (f) => {
        expect(await io('udp-send', '127.0.0.1', port, 20)).toEqual(Array(20).fill('ok')) // sent: the drop is on the wire
        await settle()
        expect(received).toBe(0)
        const tx = dgram.createSocket('udp4')
        for (let i = 0; i < 5; i++) await new Promise((r) => tx.send('y', port, '127.0.0.1', r))
        tx.close()
        // however slow the machine: wait for the five, then a little for anything more
        for (const end = Date.now() + 10_000; received < 5 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10))
        await settle()
        expect(received).toBe(5)
        expect(f.stats().blackhole).toMatchObject({ mechanism: 'tcx', fired: 20 })
      })
    } finally {
      rx.close()
    }
  })

  it('htb + netem: a 1 s egress delay holds every round trip of a child that long (as it measures them)', async (ctx) => {
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    skipUnless(ctx, 'cgroup-sockaddr', 'htb', 'netem')
    const echo = dgram.createSocket('udp4')
    echo.on('message', (m, r) => echo.send(m, r.port, r.address))
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r))
    const port = echo.address().port
    try {
      // A delay far above emulation's own noise (round trips of ~0.3 s under TCG): netem holds
      // each datagram at least the delay, and without the rule some round trip is shorter.
      expect(Math.min(...(await io<number[]>('ping', '127.0.0.1', port, 5)))).toBeLessThan(1000)
      await withFailureConfig({ target: children, network: [{ name: 'slow', action: 'delay', delay: '1s', direction: 'egress', protocol: 'udp', port }] }, async (f) => {
        expect(Math.min(...(await io<number[]>('ping', '127.0.0.1', port, 5)))).toBeGreaterThanOrEqual(999)
        expect(f.fired('slow')).toBeGreaterThanOrEqual(5)
      })
    } finally {
      echo.close()
    }
  })

  it('send-signal: a child\'s readv calls each return after the delay, as the child measures them', async (ctx) => {
    skipUnless(ctx, 'send-signal')
    // readv: no call a Node child makes by itself (its loader reads with read and pread64).
    const delay = 300
    const file = path.join(outside, 'config.json')
    let took: number[] = []
    await withFailureConfig({ target: children, syscalls: [{ name: 'slow-readv', syscall: 'readv', delay: `${delay}ms` }] }, async (f) => {
      took = await io<number[]>('readv', file, 2)
      expect(took).toHaveLength(2)
      // A pause under emulation's own noise of several seconds: the upper bound only catches a pause never resumed.
      for (const ms of took) expect(ms).toBeGreaterThanOrEqual(delay - 1)
      for (const ms of took) expect(ms).toBeLessThan(delay + 10_000)
      expect(f.stats()['slow-readv']).toMatchObject({ mechanism: 'send-signal', fired: 2 })
    })
    // disarmed: faster than every delayed call, as the child measured them
    expect(Math.max(...(await io<number[]>('readv', file, 2)))).toBeLessThan(Math.min(...took))
  })

  it('fexit + bpf_probe_write_user: a child\'s read, pread64 and readv of a file differ exactly at the predicted offsets; this process reads it clean', async (ctx) => {
    skipUnless(ctx, 'tp_btf', 'fexit', 'probe-write-user')
    const content = Buffer.concat(Array.from({ length: 32 }, (_, i) => crypto.createHash('sha256').update(`arch ${i}`).digest()))
    const file = path.join(inside, 'blob.bin')
    fs.writeFileSync(file, content)
    // One rule per read syscall (their arguments: buffer, offset, iovecs), each with its own seed.
    const calls = ['read', 'pread64', 'readv'] as const
    const rules = calls.map((syscall, i) => ({ name: syscall, syscall, corrupt: { bytes: 4, seed: 40 + i }, match: { path: GLOB } }))
    await withFailureConfig({ target: children, syscalls: rules }, async (f) => {
      const got = await io('read', file, 'read', 'pread', 'readv', 'read')
      expect(fs.readFileSync(file).equals(content)).toBe(true)
      // What each call read (pread64: from offset 100; readv: 100 + the rest) and the rule's firing number.
      const want: [Buffer, number, number][] = [[content, 40, 0], [content.subarray(100), 41, 0], [content, 42, 0], [content, 40, 1]]
      for (const [i, [data, seed, call]] of want.entries()) {
        const flips = predictCorruption({ seed, bytes: 4, length: data.length, call })
        expect(got[i], `call ${i}`).not.toBe(data.toString('hex'))
        expect(got[i], `call ${i}`).toBe(applyCorruption(data, flips).toString('hex'))
      }
      const readv = predictCorruption({ seed: 42, bytes: 4, length: content.length }).map((x) => x.offset)
      expect(readv.some((o) => o < 100) && readv.some((o) => o >= 100)).toBe(true) // both iovecs
      expect(f.stats().read).toMatchObject({ mechanism: 'fexit-corrupt', fired: 2 })
      expect([f.fired('pread64'), f.fired('readv')]).toEqual([1, 1])
    })
    expect(await io('read', file, 'read')).toEqual([content.toString('hex')])
  })

  it('iter/tcp + bpf_sock_destroy: a child\'s HTTP download is reset after N bytes, give or take a segment; this process\'s completes', async (ctx) => {
    skipUnless(ctx, 'sock-destroy', 'cgroup-sockaddr')
    const body = Buffer.alloc(512 << 10, 'x')
    const server = http.createServer((req, res) => {
      req.socket.on('error', () => {})
      res.writeHead(200, { 'content-length': body.length })
      res.end(body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    const after = 100_000
    try {
      const child = await waitingDownload(port, '/')
      const { seen, bystander, fired } = await withFailureConfig({ target: children, network: [{ name: 'cut', action: 'reset', port, after_bytes: after }] }, async (f) => {
        const [seen, bystander] = await Promise.all([child.go(), downloadHere(port, '/')])
        return { seen, bystander, fired: f.fired('cut') }
      })
      expect(RESET_CODES, JSON.stringify(seen)).toContain(seen.code)
      expect(seen.bytes).toBeGreaterThanOrEqual(after)
      expect(seen.bytes).toBeLessThan(after + SEGMENT)
      expect(fired).toBe(1)
      expect(bystander.code).toBeNull()
      expect(bystander.bytes).toBeGreaterThan(body.length)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  it('TC DNS answer: a child gets NXDOMAIN for one name and resolves another; this process resolves both', async (ctx) => {
    skipUnlessAny(ctx, 'tcx', 'cls-bpf')
    skipUnless(ctx, 'cgroup-sockaddr')
    const resolver = await startResolver()
    const [bad, good] = ['api.arch.faultline.test', 'other.arch.faultline.test']
    try {
      await withFailureConfig({ target: children, dns: [{ name: bad, answer: 'nxdomain' }] }, async (f) => {
        // c-ares (dns.resolve) asks the resolver given on its command line: no resolv.conf needed.
        const [g, b] = await runJson<{ name: string; result: string; address?: string }[]>(process.execPath, [path.join(FIXTURES, 'dns-client.mjs'), 'resolve', resolver.address, good, bad])
        expect(g).toMatchObject({ name: good, result: 'ok', address: ANSWER_A })
        expect(b).toMatchObject({ name: bad, result: 'ENOTFOUND' })
        const here = new (await import('node:dns')).promises.Resolver({ timeout: 2000, tries: 2 })
        here.setServers([resolver.address])
        expect(await here.resolve4(bad)).toEqual([ANSWER_A])
        expect(f.fired(bad)).toBe(1)
      })
      // The resolver never heard the child's query for the failed name: only this process's.
      expect(resolver.asked.map((a) => a.name)).toEqual([good, bad])
    } finally {
      await resolver.close()
    }
  })
})
