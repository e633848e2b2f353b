/**
 * Who owns a datagram abstract socket, asked of the kernel (sock_diag, UNIX_DIAG_UID: the uid of
 * the process that made it, as this user namespace sees it). A datagram name yields no peer
 * credentials, and older faultline versions hold theirs as datagram sockets (holder.ts).
 */
import fs from 'node:fs'
import { getNative } from '../../libbpf/native.js'

const AF_NETLINK = 16
const AF_UNIX = 1
const SOCK_RAW = 3
const SOCK_DGRAM = 2
const SOCK_CLOEXEC = 0x80000
const NETLINK_SOCK_DIAG = 4
const SOCK_DIAG_BY_FAMILY = 20
const NLM_F_REQUEST = 0x1
const NLM_F_DUMP = 0x300
const NLMSG_ERROR = 2
const NLMSG_DONE = 3
const NLMSG_HDRLEN = 16
const UDIAG_SHOW_NAME = 0x1
const UDIAG_SHOW_UID = 0x40
const UNIX_DIAG_NAME = 0
const UNIX_DIAG_UID = 7
const MSG_LEN = 16
const align4 = (n: number) => (n + 3) & ~3

/** The uid owning the datagram socket bound to @name in this network namespace; undefined when none is found. */
export function datagramOwnerUid(name: string): number | undefined {
  const { libc } = getNative()
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
  if (fd < 0) return undefined
  try {
    const req = Buffer.alloc(NLMSG_HDRLEN + 24)
    req.writeUInt32LE(req.length, 0)
    req.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4)
    req.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6)
    req.writeUInt8(AF_UNIX, NLMSG_HDRLEN)
    req.writeUInt32LE(0xffffffff, NLMSG_HDRLEN + 4) // every state
    req.writeUInt32LE(UDIAG_SHOW_NAME | UDIAG_SHOW_UID, NLMSG_HDRLEN + 12)
    fs.writeSync(fd, req)
    const want = `\0${name}`
    const buf = Buffer.alloc(64 * 1024)
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null)
      if (n <= 0) return undefined
      for (let off = 0; off + NLMSG_HDRLEN <= n; ) {
        const len = buf.readUInt32LE(off)
        const t = buf.readUInt16LE(off + 4)
        if (len < NLMSG_HDRLEN || off + len > n) return undefined
        if (t === NLMSG_DONE || t === NLMSG_ERROR) return undefined
        const m = off + NLMSG_HDRLEN
        if (buf.readUInt8(m + 1) === SOCK_DGRAM) {
          let sockName: string | undefined
          let uid: number | undefined
          for (let a = m + MSG_LEN; a + 4 <= off + len; ) {
            const alen = buf.readUInt16LE(a)
            if (alen < 4) break
            const type = buf.readUInt16LE(a + 2)
            if (type === UNIX_DIAG_NAME) sockName = buf.toString('latin1', a + 4, a + alen)
            if (type === UNIX_DIAG_UID) uid = buf.readUInt32LE(a + 4)
            a += align4(alen)
          }
          if (sockName === want) return uid
        }
        off += align4(len)
      }
    }
  } catch {
    return undefined
  } finally {
    libc.close(fd)
  }
}
