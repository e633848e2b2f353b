/**
 * The tc objects of this network namespace, read from the kernel over rtnetlink (a dump of the
 * qdiscs, and of each clsact's filters), with no helper process: what the first arming's check
 * needs to know whether a dead owner can have left anything in tc (sweep.ts). Reading only; every
 * change still goes through iproute2 or libbpf.
 */
import fs from 'node:fs'
import { getNative } from '../../libbpf/native.js'

const AF_NETLINK = 16
const SOCK_RAW = 3
const SOCK_CLOEXEC = 0x80000
const NETLINK_ROUTE = 0
const NLM_F_REQUEST = 0x1
const NLM_F_DUMP = 0x300
const NLMSG_ERROR = 2
const NLMSG_DONE = 3
const RTM_NEWQDISC = 36
const RTM_GETQDISC = 38
const RTM_NEWTFILTER = 44
const RTM_GETTFILTER = 46
const TCA_KIND = 1
const NLMSG_HDRLEN = 16
const TCMSG_LEN = 20
/** The clsact qdisc's two sides as a filter's parent (TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / _EGRESS)). */
export const CLSACT_PARENT = { ingress: 0xfffffff2, egress: 0xfffffff3 } as const

/** One qdisc or filter of a dump: struct tcmsg's fields and TCA_KIND. */
export interface TcObject {
  ifindex: number
  handle: number
  parent: number
  /** tcm_info: a filter's priority in the high 16 bits, its protocol in the low ones. */
  info: number
  kind: string
}

const align4 = (n: number) => (n + 3) & ~3

function parseTcmsg(buf: Buffer, off: number, end: number): TcObject {
  const t = off + NLMSG_HDRLEN
  const obj: TcObject = { ifindex: buf.readInt32LE(t + 4), handle: buf.readUInt32LE(t + 8), parent: buf.readUInt32LE(t + 12), info: buf.readUInt32LE(t + 16), kind: '' }
  for (let a = t + TCMSG_LEN; a + 4 <= end; ) {
    const len = buf.readUInt16LE(a)
    if (len < 4) break
    if (buf.readUInt16LE(a + 2) === TCA_KIND) obj.kind = buf.toString('latin1', a + 4, a + len).replace(/\0.*$/s, '')
    a += align4(len)
  }
  return obj
}

/** One rtnetlink dump request (`type`, with a tcmsg for `ifindex` and `parent`); every object of type `reply`. */
function dump(type: number, reply: number, ifindex = 0, parent = 0): TcObject[] {
  const { libc } = getNative()
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)
  if (fd < 0) throw new Error('socket(AF_NETLINK, NETLINK_ROUTE) failed')
  try {
    const req = Buffer.alloc(NLMSG_HDRLEN + TCMSG_LEN)
    req.writeUInt32LE(req.length, 0)
    req.writeUInt16LE(type, 4)
    req.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6)
    req.writeUInt32LE(1, 8) // sequence number
    req.writeInt32LE(ifindex, NLMSG_HDRLEN + 4)
    req.writeUInt32LE(parent, NLMSG_HDRLEN + 12)
    fs.writeSync(fd, req)
    const out: TcObject[] = []
    const buf = Buffer.alloc(64 * 1024)
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null)
      if (n <= 0) throw new Error('rtnetlink: the dump ended without NLMSG_DONE')
      for (let off = 0; off + NLMSG_HDRLEN <= n; ) {
        const len = buf.readUInt32LE(off)
        const t = buf.readUInt16LE(off + 4)
        if (len < NLMSG_HDRLEN || off + len > n) throw new Error('rtnetlink: a malformed message')
        if (t === NLMSG_DONE) return out
        if (t === NLMSG_ERROR) {
          const errno = -buf.readInt32LE(off + NLMSG_HDRLEN)
          if (errno) throw Object.assign(new Error(`rtnetlink dump ${type}: errno ${errno}`), { errno })
        } else if (t === reply && len >= NLMSG_HDRLEN + TCMSG_LEN) {
          out.push(parseTcmsg(buf, off, off + len))
        }
        off += align4(len)
      }
    }
  } finally {
    libc.close(fd)
  }
}

/** Every qdisc of this network namespace. */
export const dumpQdiscs = (): TcObject[] => dump(RTM_GETQDISC, RTM_NEWQDISC)

/** The filters of one side of the clsact qdisc of `ifindex` (a classifier instance is listed with handle 0 too). */
export const dumpClsactFilters = (ifindex: number, direction: keyof typeof CLSACT_PARENT): TcObject[] =>
  dump(RTM_GETTFILTER, RTM_NEWTFILTER, ifindex, CLSACT_PARENT[direction])
