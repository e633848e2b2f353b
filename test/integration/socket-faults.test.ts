/**
 * Socket-call faults through cgroup hooks, end to end on the real kernel: the test's own
 * process, children, grandchildren, processes started before arming, and processes that
 * must never be touched. Every check is what a real process saw (errno / exit status).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import dgram from 'node:dgram'
import fs from 'node:fs'
import path from 'node:path'
import { withFailureConfig, predictSeededFailures, FaultlineBusyError, FaultlineTimeoutError } from '../../packages/core/src/index.js'
import { startServer, tryConnect, connectMany, runJson, spawnWaitingConnector, FIXTURES, type Server } from '../support/net.js'
import { skipUnless } from '../support/requires.js'
import { AFTER_DELAYS_MS, judgeAfter, type TimedCall } from '../support/after.js'

let server: Server
let other: Server
const CONNECT = path.join(FIXTURES, 'connect.cjs')

beforeAll(async () => {
  server = await startServer()
  other = await startServer()
})
afterAll(async () => {
  await server.close()
  await other.close()
})

const refuse = (extra: Record<string, unknown> = {}) => ({
  syscalls: [{ name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: server.port }, ...extra }],
})

describe('connect refused for the calling process tree', () => {
  it('fails net.connect inside the callback only', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    expect(await tryConnect(server.port)).toBe('ok')
    const inside = await withFailureConfig(refuse(), async (faults) => {
      const r = await tryConnect(server.port)
      expect(faults.fired('db-down')).toBe(1)
      return r
    })
    expect(inside).toBe('ECONNREFUSED')
    expect(await tryConnect(server.port)).toBe('ok')
  })

  it('resolves to the callback value and exposes stats', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const { value, stats } = await withFailureConfig(refuse(), async (faults) => {
      await tryConnect(other.port) // same syscall, filtered out by port
      await tryConnect(server.port)
      return { value: 42, stats: faults.stats() }
    })
    expect(value).toBe(42)
    expect(stats['db-down']).toMatchObject({ syscall: 'connect', mechanism: 'cgroup', seen: 2, matched: 1, fired: 1 })
  })

  it('fails a child node process and a grandchild through sh -c', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    await withFailureConfig(refuse(), async (faults) => {
      expect(await runJson(process.execPath, [CONNECT, String(server.port)])).toEqual(['ECONNREFUSED'])
      expect(await runJson('sh', ['-c', `"${process.execPath}" "${CONNECT}" ${server.port}`])).toEqual(['ECONNREFUSED'])
      expect(faults.fired('db-down')).toBe(2)
    })
    // and the same commands succeed once disarmed
    expect(await runJson('sh', ['-c', `"${process.execPath}" "${CONNECT}" ${server.port}`])).toEqual(['ok'])
  })

  it('fails a child started before arming that connects during the callback', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const early = await spawnWaitingConnector(server.port)
    const results = await withFailureConfig(refuse(), () => early.go())
    expect(results).toEqual(['ECONNREFUSED'])
  })

  it('never affects a process started before arming that does not descend from the caller', { timeout: 120_000 }, async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    // Double fork: the connector is re-parented away from us before we arm.
    const dir = tempDir('fl-unrelated-')
    const go = path.join(dir, 'go')
    const out = path.join(dir, 'out')
    const script = `while [ ! -e "${go}" ]; do sleep 0.05; done; "${process.execPath}" "${CONNECT}" ${server.port} 3 > "${out}"`
    spawnSync('sh', ['-c', `setsid sh -c '${script}' >/dev/null 2>&1 < /dev/null &`])
    await withFailureConfig(refuse(), async (faults) => {
      fs.writeFileSync(go, '')
      // Until it wrote its three results: a Node start takes seconds in a loaded TCG guest.
      const deadline = Date.now() + 90_000
      while (!(fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes(']')) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(faults.fired('db-down')).toBe(0)
    })
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(['ok', 'ok', 'ok'])
  })

  it("scope 'children' spares the caller and fails its children", async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    await withFailureConfig({ ...refuse(), target: { scope: 'children' } }, async () => {
      expect(await tryConnect(server.port)).toBe('ok')
      expect(await runJson(process.execPath, [CONNECT, String(server.port)])).toEqual(['ECONNREFUSED'])
    })
  })

  it('a comm filter selects processes by name, re-checked at exec', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const py = `import socket,json\nr=[]\ntry:\n  socket.create_connection(('127.0.0.1',${server.port})).close(); r.append('ok')\nexcept OSError as e:\n  import errno; r.append(errno.errorcode[e.errno])\nprint(json.dumps(r))`
    await withFailureConfig({ ...refuse(), target: { comm: ['python3'] } }, async (faults) => {
      expect(await tryConnect(server.port)).toBe('ok') // node: not in the comm list
      expect(await runJson(process.execPath, [CONNECT, String(server.port)])).toEqual(['ok'])
      expect(await runJson('python3', ['-c', py])).toEqual(['ECONNREFUSED'])
      expect(await runJson('sh', ['-c', `python3 -c "${py.replace(/"/g, '\\"')}"`])).toEqual(['ECONNREFUSED'])
      expect(faults.fired('db-down')).toBe(2)
    })
  })

  it('removes exited processes from the target set', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    await withFailureConfig(refuse(), async (faults) => {
      const child = spawn('sleep', ['0.2'])
      await new Promise((r) => child.on('spawn', r))
      expect(faults.targets()).toContain(child.pid)
      await new Promise((r) => child.on('close', r))
      await new Promise((r) => setTimeout(r, 50))
      expect(faults.targets()).not.toContain(child.pid)
      expect(faults.targets()).toContain(process.pid)
    })
  })
})

describe('match and when', () => {
  it('match.address narrows by address and CIDR', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const any = await startServer('0.0.0.0')
    try {
      await withFailureConfig(
        { syscalls: [{ name: 'only-2', syscall: 'connect', errno: 'EHOSTUNREACH', match: { address: '127.0.0.2/32' } }] },
        async () => {
          expect(await tryConnect(any.port, '127.0.0.1')).toBe('ok')
          expect(await tryConnect(any.port, '127.0.0.2')).toBe('EHOSTUNREACH')
        },
      )
      await withFailureConfig(
        { syscalls: [{ name: 'net', syscall: 'connect', errno: 'ENETUNREACH', match: { address: '127.0.0.0/8', port: any.port } }] },
        async () => {
          expect(await tryConnect(any.port, '127.0.0.3')).toBe('ENETUNREACH')
          expect(await tryConnect(server.port, '127.0.0.1')).toBe('ok')
        },
      )
    } finally {
      await any.close()
    }
  })

  it('when.nth fails only the nth matching call', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = await withFailureConfig(refuse({ when: { nth: 3 } }), () => connectMany(5, server.port))
    expect(r).toEqual(['ok', 'ok', 'ECONNREFUSED', 'ok', 'ok'])
  })

  it('when.times caps the failures', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = await withFailureConfig(refuse({ when: { times: 2 } }), () => connectMany(4, server.port))
    expect(r).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ok', 'ok'])
  })

  it('when.probability with a seed gives the same, predictable sequence every time', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const cfg = refuse({ when: { probability: 0.3, seed: 1234 } })
    const run = () => withFailureConfig(cfg, () => connectMany(60, server.port))
    const a = await run()
    const b = await run()
    expect(a).toEqual(b)
    const failed = a.flatMap((r, i) => (r === 'ECONNREFUSED' ? [i] : []))
    expect(failed).toEqual(predictSeededFailures(1234, 0.3, 60))
    expect(failed.length).toBeGreaterThan(5)
    expect(failed.length).toBeLessThan(35)
    const c = await withFailureConfig(refuse({ when: { probability: 0.3, seed: 99 } }), () => connectMany(60, server.port))
    expect(c).not.toEqual(a)
  })

  it('when.probability without a seed fails about that share of calls', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const r = await withFailureConfig(refuse({ when: { probability: 0.5 } }), () => connectMany(200, server.port))
    const n = r.filter((x) => x === 'ECONNREFUSED').length
    expect(n).toBeGreaterThan(60)
    expect(n).toBeLessThan(140)
  })

  it('when.after delays the first failure: calls before it by our own clock succeed, calls after it fail', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    // Retried with a longer `after` only when the machine was too busy for a surely-early call.
    for (const delayMs of AFTER_DELAYS_MS) {
      const earliest = process.hrtime.bigint()
      let latest = 0n
      const calls: TimedCall[] = []
      await withFailureConfig(refuse({ when: { after: `${delayMs}ms` } }), async (faults) => {
        latest = process.hrtime.bigint()
        const until = latest + BigInt((delayMs + 100) * 1e6)
        for (let more = true; more; ) {
          const before = process.hrtime.bigint()
          const result = await tryConnect(server.port)
          calls.push({ result, before, after: process.hrtime.bigint() })
          more = before < until && calls.length < 256
          if (more) await new Promise((r) => setTimeout(r, delayMs / 8))
        }
        const failed = calls.filter((c) => c.result === 'ECONNREFUSED').length
        expect(faults.stats()['db-down']).toMatchObject({ matched: calls.length, eligible: failed, fired: failed })
      })
      const verdict = judgeAfter(calls, { earliest, latest }, delayMs, 'ECONNREFUSED')
      expect(verdict.wrong).toEqual([])
      if (verdict.decided) return
    }
    throw new Error(`no run decided: the first call always came later than after=${AFTER_DELAYS_MS.at(-1)}ms`)
  })
})

describe('other socket calls', () => {
  it('bind, sendto (UDP), socket, setsockopt and getsockopt return the configured errno', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    // One Python process runs every call (interpreter start-up is slow under emulation in the VM matrix).
    const calls: Record<string, string> = {
      bindPort: "s=socket.socket(); s.bind(('127.0.0.1', 40999))",
      bindOther: "s=socket.socket(); s.bind(('127.0.0.1', 0))",
      sendto: "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('127.0.0.1', 40998))",
      socket6: 'socket.socket(socket.AF_INET6)',
      socket4: 'socket.socket(socket.AF_INET)',
      setopt: 'socket.socket(socket.AF_INET).setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
      getopt: 'socket.socket(socket.AF_INET).getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)',
    }
    const script = [
      'import socket, errno, json',
      'out = {}',
      ...Object.entries(calls).flatMap(([k, code]) => ['try:', `  ${code}`, `  out['${k}'] = 'ok'`, 'except OSError as e:', `  out['${k}'] = errno.errorcode[e.errno]`]),
      'print(json.dumps(out))',
    ].join('\n')
    await withFailureConfig(
      {
        syscalls: [
          { name: 'bind', syscall: 'bind', errno: 'EADDRINUSE', match: { port: 40999 } },
          { name: 'send', syscall: 'sendto', errno: 'ENETUNREACH', match: { port: 40998 } },
          { name: 'sock', syscall: 'socket', errno: 'EMFILE', match: { family: 'inet6' } },
          { name: 'setopt', syscall: 'setsockopt', errno: 'ENOPROTOOPT' },
          { name: 'getopt', syscall: 'getsockopt', errno: 'EACCES' },
        ],
      },
      async (faults) => {
        expect(await runJson('python3', ['-c', script])).toEqual({
          bindPort: 'EADDRINUSE', bindOther: 'ok', sendto: 'ENETUNREACH', socket6: 'EMFILE', socket4: 'ok', setopt: 'ENOPROTOOPT', getopt: 'EACCES',
        })
        const udp = dgram.createSocket('udp4')
        const err = await new Promise<NodeJS.ErrnoException | null>((r) => udp.send('x', 40998, '127.0.0.1', (e) => r(e)))
        udp.close()
        expect(err?.code).toBe('ENETUNREACH')
        for (const name of faults.rules) expect(faults.fired(name), name).toBeGreaterThan(0)
      },
    )
  })

  it('errno by number and raw ret values reach user space sign-extended', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    expect(await withFailureConfig(refuse({ errno: undefined, ret: -113 }), () => tryConnect(server.port))).toBe('EHOSTUNREACH')
    expect(
      await withFailureConfig({ syscalls: [{ name: 'n', syscall: 'connect', errno: 110, match: { port: server.port } }] }, () => tryConnect(server.port)),
    ).toBe('ETIMEDOUT')
    // C sees errno through glibc, which needs the sign-extended value
    const c = `#include <stdio.h>\n#include <errno.h>\n#include <string.h>\n#include <arpa/inet.h>\n#include <sys/socket.h>\nint main(int c,char**v){struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(atoi(v[1]))};inet_pton(AF_INET,"127.0.0.1",&a.sin_addr);int s=socket(AF_INET,SOCK_STREAM,0);int r=connect(s,(void*)&a,sizeof a);printf("[\\"%s\\"]\\n",r==0?"ok":strerrorname_np(errno));return 0;}`
    const dir = tempDir('fl-c-')
    fs.writeFileSync(path.join(dir, 'c.c'), c.replace('#include <stdio.h>', '#define _GNU_SOURCE\n#include <stdio.h>\n#include <stdlib.h>'))
    execFileSync('cc', ['-o', path.join(dir, 'c'), path.join(dir, 'c.c')])
    const r = await withFailureConfig(refuse(), () => runJson(path.join(dir, 'c'), [String(server.port)]))
    expect(r).toEqual(['ECONNREFUSED'])
  })
})

describe('life cycle', () => {
  it('disarms when the callback throws', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    await expect(withFailureConfig(refuse(), async () => { throw new Error('boom') })).rejects.toThrow('boom')
    expect(await tryConnect(server.port)).toBe('ok')
  })

  it('disarms when the callback outlives its timeout', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    const never = new Promise<void>(() => {})
    await expect(withFailureConfig(refuse(), () => never, { timeout: 200 })).rejects.toBeInstanceOf(FaultlineTimeoutError)
    expect(await tryConnect(server.port)).toBe('ok')
  })

  it('rejects nested and concurrent calls in one process, leaving the outer one armed', async (ctx) => {
    skipUnless(ctx, 'cgroup-sockaddr', 'tp_btf')
    await withFailureConfig(refuse(), async () => {
      await expect(withFailureConfig(refuse(), async () => 1)).rejects.toBeInstanceOf(FaultlineBusyError)
      expect(await tryConnect(server.port)).toBe('ECONNREFUSED')
    })
    expect(await tryConnect(server.port)).toBe('ok')
  })
})
