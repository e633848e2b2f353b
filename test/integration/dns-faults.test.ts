/**
 * DNS failures by name: the targets' queries for a chosen name get NXDOMAIN or SERVFAIL from the
 * TC program (the resolver never sees them) or no answer at all, whatever the client: glibc's
 * getaddrinfo in a C child, Python's socket.getaddrinfo, Node's dns.lookup (glibc) and
 * dns.resolve (c-ares); over TCP glibc (`options use-vc`) and a raw query. The resolver is
 * test/support/dns.ts on a loopback address, port 53; getaddrinfo reads it from a private
 * /etc/resolv.conf (a mount namespace per child), so the machine's resolver is never touched.
 * This process is the bystander: it resolves the same names through the same resolver while
 * the rule is armed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execFileSync, spawn } from 'node:child_process'
import dgram from 'node:dgram'
import dns from 'node:dns'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { withFailureConfig, type FailureConfigInput } from '../../packages/core/src/index.js'
import { runJson } from '../support/net.js'
import { ANSWER_A, startResolver, tcpQuery, type Resolver } from '../support/dns.js'
import { kernelLock } from '../support/kernel-lock.js'
import { requires, skipBecause, skipUnless } from '../support/requires.js'
import { vethNamespace } from '../support/veth-ns.js'

const CLIENT = fileURLToPath(new URL('../fixtures/dns-client.mjs', import.meta.url))
const GAI_SRC = fileURLToPath(new URL('../fixtures/gai.c', import.meta.url))
const MECHANISMS = ['tcx', 'cls-bpf'] as const
const children = { scope: 'children' as const }
const PY = `import json, socket, sys, time
out = []
for n in sys.argv[1:]:
    t0 = time.monotonic()
    try:
        socket.getaddrinfo(n, None, socket.AF_INET, socket.SOCK_STREAM)
        r = 'ok'
    except socket.gaierror as e:
        r = {socket.EAI_NONAME: 'EAI_NONAME', socket.EAI_AGAIN: 'EAI_AGAIN'}.get(e.errno, str(e.errno))
    out.append({'name': n, 'result': r, 'ms': (time.monotonic() - t0) * 1000})
print(json.dumps(out))`
/** The same for both families: glibc asks A and AAAA, over TCP both in one segment. */
const PY_ANY = PY.replace('socket.AF_INET', 'socket.AF_UNSPEC')

interface Outcome { name: string; result: string; ms: number; address?: string }
let resolver: Resolver
let dir: string
let gai: string

// cls_bpf variants add clsact qdiscs to the host's interfaces: not while another file compares tc state.
const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 1_200_000)
afterAll(tcLock.release)
beforeAll(async () => {
  resolver = await startResolver()
  dir = tempDir('fl-dns-')
  gai = path.join(dir, 'gai')
  execFileSync('cc', ['-O2', '-o', gai, GAI_SRC])
  // One try, one second: a dropped query costs the clients a second, not the default 5 s x 2.
  fs.writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${resolver.address}\noptions timeout:1 attempts:1\n`)
})
afterAll(async () => {
  await resolver?.close()
})

/** Runs a client with /etc/resolv.conf naming the test resolver (or `conf`), in a mount namespace of its own. */
function privateResolv(cmd: string, args: string[], conf = path.join(dir, 'resolv.conf')): Promise<Outcome[]> {
  const script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
  return runJson<Outcome[]>('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, conf, cmd, ...args])
}
const clients = {
  'glibc getaddrinfo (C)': (names: string[]) => privateResolv(gai, names),
  'Python socket.getaddrinfo': (names: string[]) => privateResolv('python3', ['-c', PY, ...names]),
  'Node dns.lookup': (names: string[]) => privateResolv(process.execPath, [CLIENT, 'lookup', resolver.address, ...names]),
  'Node dns.resolve (c-ares)': (names: string[]) => runJson<Outcome[]>(process.execPath, [CLIENT, 'resolve', resolver.address, ...names]),
}
/** What each client reports for NXDOMAIN, SERVFAIL and a query nobody answers. */
const EXPECTED: Record<keyof typeof clients, Record<'nxdomain' | 'servfail' | 'timeout', string>> = {
  'glibc getaddrinfo (C)': { nxdomain: 'EAI_NONAME', servfail: 'EAI_AGAIN', timeout: 'EAI_AGAIN' },
  'Python socket.getaddrinfo': { nxdomain: 'EAI_NONAME', servfail: 'EAI_AGAIN', timeout: 'EAI_AGAIN' },
  'Node dns.lookup': { nxdomain: 'ENOTFOUND', servfail: 'EAI_AGAIN', timeout: 'EAI_AGAIN' },
  'Node dns.resolve (c-ares)': { nxdomain: 'ENOTFOUND', servfail: 'ESERVFAIL', timeout: 'ETIMEOUT' },
}

/** This process (not a target) asks the same resolver. */
async function bystander(name: string): Promise<string> {
  const r = new dns.promises.Resolver({ timeout: 2000, tries: 2 })
  r.setServers([resolver.address])
  try {
    return (await r.resolve4(name))[0]!
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e)
  }
}

/** TCP sockets to or from `address`:53 on this machine other than listeners and TIME-WAIT, as `ss` shows them. */
function openSockets(address: string): string[] {
  const host = address.includes(':') ? `[${address}]` : address
  const out = execFileSync('ss', ['-Htan', 'state', 'connected', 'exclude', 'time-wait', `( dport = :53 or sport = :53 ) and ( dst ${host} or src ${host} )`], { encoding: 'utf8' })
  return out.split('\n').filter(Boolean)
}

/** Polls `get` every 100 ms until `done` holds or 5 s pass; returns the last value. */
async function settle<T>(get: () => T, done: (v: T) => boolean): Promise<T> {
  let v = get()
  for (let i = 0; i < 50 && !done(v); i++) {
    await new Promise((r) => setTimeout(r, 100))
    v = get()
  }
  return v
}

const asked = (name: string) => resolver.asked.filter((a) => a.name === name).length

// A network rule that never fires pins how the TC programs attach, so both ways are tested
// wherever the kernel has them (DNS rules themselves use the network rules' choice).
const withPin = (mechanism: (typeof MECHANISMS)[number], cfg: FailureConfigInput): FailureConfigInput => ({
  ...cfg,
  network: [{ name: 'pin', action: 'drop', protocol: 'udp', port: 9, hosts: ['192.0.2.1'], interface: 'lo', mechanism }],
})

/**
 * A resolver behind another interface: the peer of a veth pair in a namespace of the test's own
 * (no network beyond the machine needed). The stand-in there listens on UDP and TCP port 53,
 * answers nothing and reports what reached it: the datagrams' text, the TCP connections and bytes.
 */
const remote = vethNamespace('fl-dns', 'fld', '10.214')
beforeAll(() => {
  if (!requires('cgroup-sockaddr')) remote.create()
})
afterAll(remote.remove)

const STAND_IN = `const dgram=require('dgram'),net=require('net');const heard={udp:[],tcpConnections:0,tcpBytes:0};let up=0
const u=dgram.createSocket('udp4');u.on('message',(m)=>heard.udp.push(String(m)));u.bind(53,process.argv[1],()=>++up===2&&console.log('ready'))
const t=net.createServer((c)=>{heard.tcpConnections++;c.on('data',(d)=>heard.tcpBytes+=d.length);c.on('error',()=>{})});t.listen(53,process.argv[1],()=>++up===2&&console.log('ready'))
process.stdin.on('end',()=>{console.log(JSON.stringify(heard));process.exit(0)}).resume()`

/** Runs the stand-in in the namespace while `during` runs (it is started first: no target); returns what it heard. */
function standIn(during: () => Promise<unknown>): Promise<{ udp: string[]; tcpConnections: number; tcpBytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', remote.ns, process.execPath, '-e', STAND_IN, remote.peer])
    let out = ''
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    child.stdout.on('data', (d) => {
      out += d
      if (String(d).includes('ready')) during().then(() => child.stdin.end(), (e: unknown) => (child.kill(), reject(e)))
    })
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? ''
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last))
      else reject(new Error(`the stand-in resolver in ${remote.ns} ended with ${code}: ${err || out}`))
    })
  })
}

describe.each(MECHANISMS)('DNS faults (%s)', { timeout: 120_000 }, (mechanism) => {
  for (const answer of ['nxdomain', 'servfail', 'timeout'] as const) {
    it(`${answer}: the named query fails for every client, other names resolve, the bystander resolves it`, async (ctx) => {
      skipUnless(ctx, mechanism, 'cgroup-sockaddr')
      const bad = `api-${answer}.faultline.test`
      const good = `other-${answer}.faultline.test`
      const before = asked(bad)
      const cfg = withPin(mechanism, { target: children, dns: [{ name: bad, answer }] })
      await withFailureConfig(cfg, async (f) => {
        for (const [client, run] of Object.entries(clients) as [keyof typeof clients, (n: string[]) => Promise<Outcome[]>][]) {
          // The good name first: the client's first lookup pays for loading its resolver code.
          const [g, b] = await run([good, bad])
          expect(b, client).toMatchObject({ name: bad, result: EXPECTED[client][answer] })
          expect(g, client).toMatchObject({ name: good, result: 'ok' })
          // the Node clients report the address (getaddrinfo's children print the outcome only)
          expect(g!.address, client).toBe(client.startsWith('Node') ? ANSWER_A : undefined)
          // Each client waits 1 s for an answer (as it measured): a dropped query costs that
          // whole second, and an answer is taken before it runs out.
          if (answer === 'timeout') expect(b!.ms, client).toBeGreaterThanOrEqual(990)
          else expect(b!.ms, client).toBeLessThan(1000)
        }
        expect(await bystander(bad)).toBe(ANSWER_A)
        // The resolver heard the bystander's query only: the targets' never left the machine's TC.
        expect(asked(bad) - before).toBe(1)
        expect(f.fired(bad)).toBeGreaterThanOrEqual(4)
        expect(f.stats()[bad]).toMatchObject({ syscall: `dns:${answer}`, mechanism })
      })
      // Disarmed: the target resolves the name again.
      const [after] = await clients['glibc getaddrinfo (C)']([bad])
      expect(after).toMatchObject({ result: 'ok' })
    })
  }

  it('globs: * spans labels, ? one character, case is ignored; other names pass', async (ctx) => {
    skipUnless(ctx, mechanism, 'cgroup-sockaddr')
    const cfg = withPin(mechanism, { target: children, dns: [{ name: '*.glob.faultline.test', answer: 'nxdomain' }, { name: 'db?.faultline.test', answer: 'servfail' }] })
    await withFailureConfig(cfg, async (f) => {
      const names = ['a.glob.faultline.test', 'x.y.glob.faultline.test', 'API.Glob.FaultLine.Test', 'glob.faultline.test', 'db1.faultline.test', 'db12.faultline.test']
      const r = await clients['glibc getaddrinfo (C)'](names)
      expect(r.map((x) => x.result)).toEqual(['EAI_NONAME', 'EAI_NONAME', 'EAI_NONAME', 'ok', 'EAI_AGAIN', 'ok'])
      expect(f.fired('*.glob.faultline.test')).toBe(3)
      expect(f.fired('db?.faultline.test')).toBeGreaterThanOrEqual(1)
    })
  })

  it('when.times: only the first query fails', async (ctx) => {
    skipUnless(ctx, mechanism, 'cgroup-sockaddr')
    const name = 'once.faultline.test'
    const cfg = withPin(mechanism, { target: children, dns: [{ name, answer: 'nxdomain', when: { times: 1 } }] })
    await withFailureConfig(cfg, async (f) => {
      const r = await clients['Node dns.resolve (c-ares)']([name, name])
      expect(r.map((x) => x.result)).toEqual(['ENOTFOUND', 'ok'])
      expect(f.stats()[name]).toMatchObject({ matched: 2, fired: 1 })
    })
  })

  it('IPv6: a resolver on ::1 gets nothing, the clients get the answer, over UDP and TCP', async (ctx) => {
    skipUnless(ctx, mechanism, 'cgroup-sockaddr')
    let six: Resolver
    try {
      six = await startResolver('::1')
    } catch (err) {
      return skipBecause(ctx, `requires ipv6-dns-port: [::1]:53 is taken: ${(err as Error).message}`)
    }
    try {
      const conf = path.join(dir, 'resolv6.conf')
      fs.writeFileSync(conf, 'nameserver ::1\noptions timeout:1 attempts:1\n')
      const cfg = withPin(mechanism, { target: children, dns: [{ name: 'v6.faultline.test', answer: 'nxdomain' }, { name: 'v6-sf.faultline.test', answer: 'servfail' }] })
      await withFailureConfig(cfg, async (f) => {
        const gai6 = await privateResolv(gai, ['ok6.faultline.test', 'v6.faultline.test', 'v6-sf.faultline.test'], conf)
        expect(gai6.map((x) => x.result)).toEqual(['ok', 'EAI_NONAME', 'EAI_AGAIN'])
        expect(gai6[2]!.ms).toBeLessThan(1000) // answered, not timed out
        const cares = await runJson<Outcome[]>(process.execPath, [CLIENT, 'resolve', '::1', 'v6.faultline.test', 'v6-sf.faultline.test', 'ok6.faultline.test'])
        expect(cares.map((x) => x.result)).toEqual(['ENOTFOUND', 'ESERVFAIL', 'ok'])
        // Over TCP (glibc reads a SERVFAIL over TCP as EAI_NONAME), answered at once.
        const vc = path.join(dir, 'resolv6-tcp.conf')
        fs.writeFileSync(vc, 'nameserver ::1\noptions use-vc timeout:1 attempts:1\n')
        const tcp6 = await privateResolv(gai, ['ok6.faultline.test', 'v6.faultline.test', 'v6-sf.faultline.test'], vc)
        expect(tcp6.map((x) => x.result)).toEqual(['ok', 'EAI_NONAME', 'EAI_NONAME'])
        expect(Math.max(tcp6[1]!.ms, tcp6[2]!.ms)).toBeLessThan(1000)
        expect(f.fired('v6.faultline.test')).toBe(3)
        expect(f.fired('v6-sf.faultline.test')).toBe(3)
        const left = await settle(() => openSockets('::1'), (x) => x.length === 0 && six.openTcp() === 0)
        expect({ left, held: six.openTcp() }).toEqual({ left: [], held: 0 })
      })
      expect(six.asked).toEqual([false, false, true].map((tcp) => ({ name: 'ok6.faultline.test', tcp })))
    } finally {
      await six.close()
    }
  })

  it('a resolver behind another interface: the answer comes back through its ingress', async (ctx) => {
    skipUnless(ctx, mechanism, 'cgroup-sockaddr')
    const conf = path.join(dir, 'resolv-remote.conf')
    fs.writeFileSync(conf, `nameserver ${remote.peer}\noptions timeout:2 attempts:1\n`)
    const cfg = withPin(mechanism, { target: children, dns: [{ name: 'far.faultline.test', answer: 'nxdomain' }, { name: 'far-sf.faultline.test', answer: 'servfail' }] })
    const heard = await standIn(() =>
      withFailureConfig(cfg, async (f) => {
        const r = await privateResolv(gai, ['far.faultline.test', 'far-sf.faultline.test'], conf)
        expect(r.map((x) => x.result)).toEqual(['EAI_NONAME', 'EAI_AGAIN'])
        expect(f.fired('far.faultline.test')).toBe(1)
        expect(f.fired('far-sf.faultline.test')).toBe(1)
        // the bystander's datagram to the same resolver passes
        await new Promise<void>((resolve, reject) => {
          const s = dgram.createSocket('udp4')
          s.send('bystander', 53, remote.peer, (err) => (s.close(), err ? reject(err) : resolve()))
        })
      }),
    )
    // The stand-in never answers: a SERVFAIL or NXDOMAIN can only be faultline's, and it heard
    // the bystander only, the targets' queries turned into answers on the host's veth.
    expect(heard).toEqual({ udp: ['bystander'], tcpConnections: 0, tcpBytes: 0 })
  })

  it('over TCP, a resolver behind another interface: the answer comes back through its ingress', async (ctx) => {
    skipUnless(ctx, mechanism, 'cgroup-sockaddr')
    const cfg = withPin(mechanism, { target: children, dns: [{ name: 'far-tcp.faultline.test', answer: 'nxdomain' }, { name: 'far-tcp-sf.faultline.test', answer: 'servfail' }] })
    const heard = await standIn(() =>
      withFailureConfig(cfg, async (f) => {
        const r = await runJson<Outcome[]>(process.execPath, [CLIENT, 'tcp', remote.peer, 'far-tcp.faultline.test', 'far-tcp-sf.faultline.test'])
        expect(r.map((x) => x.result)).toEqual(['RCODE3', 'RCODE2'])
        expect(f.fired('far-tcp.faultline.test')).toBe(1)
        expect(f.fired('far-tcp-sf.faultline.test')).toBe(1)
      }),
    )
    // A handshake each (the stand-in accepted), and not one byte of a query reached it.
    expect(heard).toEqual({ udp: [], tcpConnections: 2, tcpBytes: 0 })
  })

  it('over TCP: nxdomain and servfail are answered at once, timeout is dropped; other names and the bystander resolve; no connection is left', async (ctx) => {
    skipUnless(ctx, mechanism, 'cgroup-sockaddr')
    // `options use-vc`: glibc (the C child, Python) sends every query over TCP.
    const conf = path.join(dir, 'resolv-tcp.conf')
    fs.writeFileSync(conf, `nameserver ${resolver.address}\noptions use-vc timeout:1 attempts:1\n`)
    const [ok, nx, sf, to] = ['tcp-ok', 'tcp-nx', 'tcp-sf', 'tcp-to'].map((n) => `${n}.faultline.test`) as [string, string, string, string]
    const real = 'servfail.tcp.faultline.test'
    const cfg = withPin(mechanism, { target: children, dns: [{ name: nx, answer: 'nxdomain' }, { name: sf, answer: 'servfail' }, { name: to, answer: 'timeout' }] })
    const before = resolver.asked.length
    await withFailureConfig(cfg, async (f) => {
      // glibc reads a SERVFAIL over TCP as EAI_NONAME when it asked for A only, EAI_AGAIN when
      // it asked A and AAAA (one segment): the same as the resolver's own SERVFAIL (for a name
      // under servfail.).
      const tcpClients = [['glibc getaddrinfo (C)', gai, [], 'EAI_NONAME'], ['Python socket.getaddrinfo', 'python3', ['-c', PY], 'EAI_NONAME'], ['Python, A and AAAA', 'python3', ['-c', PY_ANY], 'EAI_AGAIN']] as const
      for (const [client, cmd, args, servfail] of tcpClients) {
        const r = await privateResolv(cmd, [...args, ok, nx, sf, real], conf)
        expect(r.map((x) => x.result), client).toEqual(['ok', 'EAI_NONAME', servfail, servfail])
        // glibc waits 1 s for an answer; these came at once (as the child measured).
        expect(r[1]!.ms, client).toBeLessThan(1000)
        expect(r[2]!.ms, client).toBeLessThan(1000)
      }
      // One length-prefixed query per connection, 1.5 s for the answer (dns-client.mjs).
      const raw = await runJson<Outcome[]>(process.execPath, [CLIENT, 'tcp', resolver.address, ok, nx, sf])
      expect(raw.map((x) => x.result)).toEqual(['ok', 'RCODE3', 'RCODE2'])
      expect(raw[1]!.ms).toBeLessThan(1000)
      expect(raw[2]!.ms).toBeLessThan(1000)
      // The answered connections were reset on the resolver's side, and the clients' sockets end
      // (their FIN gets a reset): nothing is left but TIME-WAIT of the connections closed normally.
      const left = await settle(() => openSockets(resolver.address), (x) => x.length === 0 && resolver.openTcp() === 0)
      expect({ left, held: resolver.openTcp() }).toEqual({ left: [], held: 0 })
      // timeout: dropped, and so is each retransmission while the rule is armed.
      const [dropped] = await runJson<Outcome[]>(process.execPath, [CLIENT, 'tcp', resolver.address, to])
      expect(dropped).toMatchObject({ result: 'ETIMEOUT' })
      // This process is no target: its TCP query for the same name is answered by the resolver.
      expect(await tcpQuery(resolver.address, nx)).toBe(0)
      expect(f.stats()[nx]).toMatchObject({ fired: 4 })
      expect(f.stats()[sf]).toMatchObject({ fired: 4 })
      expect(f.fired(to)).toBeGreaterThanOrEqual(1)
    })
    // The resolver heard the other names from each client and the bystander's query, all over TCP.
    expect(resolver.asked.slice(before).filter((a) => a.name !== to)).toEqual([ok, real, ok, real, ok, ok, real, real, ok, nx].map((name) => ({ name, tcp: true })))
  })
})
