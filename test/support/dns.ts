/**
 * A tiny DNS resolver for tests, on a loopback address, port 53, over UDP and TCP: every A
 * question gets 10.53.0.1, every other type an empty NOERROR answer; a name under `servfail.`
 * gets a real SERVFAIL, for comparing a client's view of faultline's with it. It records the names it
 * was asked, so a test can tell a query that never reached it (faultline answered or dropped it).
 */
import dgram from 'node:dgram'
import net from 'node:net'

export const ANSWER_A = '10.53.0.1'

/** The question name and type of a DNS message, or undefined. */
export function question(msg: Buffer): { name: string; type: number; end: number } | undefined {
  const labels: string[] = []
  let i = 12
  while (i < msg.length) {
    const n = msg[i]!
    if (n === 0) return { name: labels.join('.'), type: msg.readUInt16BE(i + 1), end: i + 5 }
    if (n > 63) return undefined
    labels.push(msg.subarray(i + 1, i + 1 + n).toString('latin1'))
    i += 1 + n
  }
  return undefined
}

/** A standard query for `name` (A unless `type`), recursion desired. */
export function encodeQuery(name: string, id: number, type = 1): Buffer {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]))
  const hdr = Buffer.alloc(12)
  hdr.writeUInt16BE(id, 0)
  hdr.writeUInt16BE(0x0100, 2)
  hdr.writeUInt16BE(1, 4)
  const tail = Buffer.alloc(5)
  tail.writeUInt16BE(type, 1)
  tail.writeUInt16BE(1, 3)
  return Buffer.concat([hdr, ...labels, tail])
}

function answer(q: Buffer): Buffer | undefined {
  const qs = question(q)
  if (!qs) return undefined
  const servfail = qs.name.toLowerCase().startsWith('servfail.')
  const a = qs.type === 1 && !servfail
  const hdr = Buffer.from(q.subarray(0, 12))
  hdr.writeUInt16BE(0x8180 | (q.readUInt16BE(2) & 0x0100) | (servfail ? 2 : 0), 2)
  hdr.writeUInt16BE(1, 4)
  hdr.writeUInt16BE(a ? 1 : 0, 6)
  hdr.writeUInt16BE(0, 8)
  hdr.writeUInt16BE(0, 10)
  const parts = [hdr, q.subarray(12, qs.end)]
  if (a) {
    const rr = Buffer.alloc(16)
    rr.writeUInt16BE(0xc00c, 0) // the question's name
    rr.writeUInt16BE(1, 2)
    rr.writeUInt16BE(1, 4)
    rr.writeUInt32BE(30, 6)
    rr.writeUInt16BE(4, 10)
    ANSWER_A.split('.').forEach((x, i) => rr.writeUInt8(Number(x), 12 + i))
    parts.push(rr)
  }
  return Buffer.concat(parts)
}

export interface Resolver {
  address: string
  /** Names asked so far, in order, with the transport. */
  asked: { name: string; tcp: boolean }[]
  /** TCP connections the resolver holds open now. */
  openTcp(): number
  close(): Promise<void>
}

/** One A query over TCP from this process, waiting `ms` for the answer: its RCODE (0 = NOERROR), or an error code. */
export function tcpQuery(server: string, name: string, ms = 2000): Promise<number | string> {
  return new Promise((resolve) => {
    const q = encodeQuery(name, 0x4242)
    const s = net.connect(53, server)
    const timer = setTimeout(() => done('ETIMEOUT'), ms)
    function done(r: number | string) {
      clearTimeout(timer)
      s.destroy()
      resolve(r)
    }
    let buf = Buffer.alloc(0)
    s.on('connect', () => s.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q])))
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.readUInt16BE(4) & 0xf)
    })
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message))
  })
}

/**
 * Starts the resolver on 127.53.x.y:53 (a random address, so parallel runs do not collide), or
 * on `fixed` (e.g. '::1').
 */
export async function startResolver(fixed?: string): Promise<Resolver> {
  for (let attempt = 0; ; attempt++) {
    const address = fixed ?? `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`
    const asked: Resolver['asked'] = []
    const udp = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
    udp.on('message', (m, rinfo) => {
      const q = question(m)
      if (q) asked.push({ name: q.name.toLowerCase(), tcp: false })
      const a = answer(m)
      if (a) udp.send(a, rinfo.port, rinfo.address)
    })
    const conns = new Set<net.Socket>()
    const tcp = net.createServer((s) => {
      let buf = Buffer.alloc(0)
      conns.add(s)
      s.on('close', () => conns.delete(s))
      s.on('error', () => {})
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d])
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const m = buf.subarray(2, 2 + buf.readUInt16BE(0))
          buf = buf.subarray(2 + m.length)
          const q = question(m)
          if (q) asked.push({ name: q.name.toLowerCase(), tcp: true })
          const a = answer(m)
          if (a) s.write(Buffer.concat([Buffer.from([a.length >> 8, a.length & 0xff]), a]))
        }
      })
    })
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.bind(53, address, () => resolve())
      })
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject)
        tcp.listen(53, address, () => resolve())
      })
    } catch (err) {
      udp.close()
      tcp.close()
      if (attempt < 5 && !fixed) continue
      throw err
    }
    return {
      address,
      asked,
      openTcp: () => conns.size,
      close: async () => {
        udp.close()
        for (const c of conns) c.destroy()
        await new Promise((r) => tcp.close(r))
      },
    }
  }
}
