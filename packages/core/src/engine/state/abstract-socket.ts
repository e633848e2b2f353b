/**
 * AF_UNIX stream sockets in the abstract namespace. Abstract names belong to the network namespace,
 * the same place tc state lives, and vanish the instant their process dies (the kernel closes
 * its fds), whatever pid or mount namespace it ran in: a liveness token and a lock at once.
 *
 * Any local user can bind any abstract name, so holding one proves nothing by itself: a stream
 * socket is used because connecting to its listener yields the listener's credentials
 * (SO_PEERCRED, fixed at listen()), which holder.ts judges. Stream and datagram names are
 * separate namespaces: a datagram socket of an older faultline never collides with these.
 */
import os from 'node:os'
import { getNative } from '../../libbpf/native.js'

const AF_UNIX = 1
const SOCK_STREAM = 1
const SOCK_NONBLOCK = 0o4000
const SOCK_CLOEXEC = 0o2000000
const SOL_SOCKET = 1
const SO_PEERCRED = 17
/** Linux 6.5: a pidfd of the listener, so a pid reused since listen() cannot pass for it. */
const SO_PEERPIDFD = 77
/** The kernel caps it at net.core.somaxconn; every connect() that checks a holder waits here until accepted or closed. */
export const BACKLOG = 4096
const { EADDRINUSE, ECONNREFUSED, ENOENT, EAGAIN } = os.constants.errno

/** struct sockaddr_un for "\0<name>", and its length (no trailing NUL: abstract names are counted). */
function address(name: string): { addr: Buffer; len: number } {
  const addr = Buffer.alloc(110)
  addr.writeUInt16LE(AF_UNIX, 0)
  const len = 3 + addr.write(name, 3, 'latin1')
  return { addr, len }
}

function socket(flags = 0): number {
  const { libc, koffi } = getNative()
  // CLOEXEC: a child the test execs must not keep its parent's token alive after the parent died.
  const fd = libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0)
  if (fd < 0) throw new Error(`faultline: socket(AF_UNIX): errno ${koffi.errno()}`)
  return fd
}

/** Binds the name and listens; returns the fd (the name lives as long as it stays open) or undefined when it is taken. */
export function listenAbstract(name: string): number | undefined {
  const { libc, koffi } = getNative()
  const fd = socket()
  const { addr, len } = address(name)
  if (libc.bind(fd, addr, len) === 0) {
    if (libc.listen(fd, BACKLOG) === 0) return fd
    const errno = koffi.errno()
    libc.close(fd)
    throw new Error(`faultline: listen on the abstract socket @${name}: errno ${errno}`)
  }
  const errno = koffi.errno()
  libc.close(fd)
  if (errno === EADDRINUSE) return undefined
  throw new Error(`faultline: bind the abstract socket @${name}: errno ${errno}`)
}

export function closeAbstract(fd: number): void {
  getNative().libc.close(fd)
}

/** Who listens on an abstract name: nobody; a process by its credentials; or a holder that cannot be asked. */
export type Peer =
  | { held: false }
  /** pid 0: the listener's pid namespace is out of sight. pidfd: -1 before Linux 6.5; the caller closes it. */
  | { held: true; pid: number; uid: number; pidfd: number }
  | { held: true; unknown: string }

/**
 * Connects (without blocking) and reads the listener's credentials. The connection waits unaccepted
 * in the listener's queue until we close it; a full queue (EAGAIN) leaves the holder unknown.
 */
export function abstractPeer(name: string): Peer {
  const { libc, koffi } = getNative()
  const fd = socket(SOCK_NONBLOCK)
  try {
    const { addr, len } = address(name)
    if (libc.connect(fd, addr, len) !== 0) {
      const errno = koffi.errno()
      if (errno === ECONNREFUSED || errno === ENOENT) return { held: false }
      return { held: true, unknown: errno === EAGAIN ? 'its listen queue is full (it accepts no connections)' : `connect: errno ${errno}` }
    }
    const cred = Buffer.alloc(12)
    if (libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, [12]) !== 0) return { held: true, unknown: `SO_PEERCRED: errno ${koffi.errno()}` }
    const pidfdBuf = Buffer.alloc(4)
    const pidfd = libc.getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, pidfdBuf, [4]) === 0 ? pidfdBuf.readInt32LE(0) : -1
    return { held: true, pid: cred.readInt32LE(0), uid: cred.readUInt32LE(4), pidfd }
  } finally {
    libc.close(fd)
  }
}

// --- the datagram names of faultline before issue 23, still held for older versions running beside this one

const SOCK_DGRAM = 2

/** Binds the datagram name (what older versions hold and check); undefined when it is taken. */
export function bindLegacy(name: string): number | undefined {
  const { libc, koffi } = getNative()
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
  if (fd < 0) throw new Error(`faultline: socket(AF_UNIX): errno ${koffi.errno()}`)
  const { addr, len } = address(name)
  if (libc.bind(fd, addr, len) === 0) return fd
  const errno = koffi.errno()
  libc.close(fd)
  if (errno === EADDRINUSE) return undefined
  throw new Error(`faultline: bind the abstract socket @${name}: errno ${errno}`)
}

/** Whether some process holds the datagram name (connect() only looks the peer up). */
export function legacyHeld(name: string): boolean {
  const { libc, koffi } = getNative()
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
  if (fd < 0) throw new Error(`faultline: socket(AF_UNIX): errno ${koffi.errno()}`)
  try {
    const { addr, len } = address(name)
    if (libc.connect(fd, addr, len) === 0) return true
    const errno = koffi.errno()
    return errno !== ECONNREFUSED && errno !== ENOENT
  } finally {
    libc.close(fd)
  }
}
