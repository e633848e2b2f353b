/**
 * AF_UNIX sockets in the abstract namespace. Abstract names belong to the network namespace,
 * the same place tc state lives, and vanish the instant their process dies (the kernel closes
 * its fds), whatever pid or mount namespace it ran in: a liveness token and a lock at once.
 */
import os from 'node:os'
import { getNative } from '../../libbpf/native.js'

const AF_UNIX = 1
const SOCK_DGRAM = 2
const SOCK_CLOEXEC = 0o2000000
const { EADDRINUSE, ECONNREFUSED, ENOENT } = os.constants.errno

/** struct sockaddr_un for "\0<name>", and its length (no trailing NUL: abstract names are counted). */
function address(name: string): { addr: Buffer; len: number } {
  const addr = Buffer.alloc(110)
  addr.writeUInt16LE(AF_UNIX, 0)
  const len = 3 + addr.write(name, 3, 'latin1')
  return { addr, len }
}

function socket(): number {
  const { libc, koffi } = getNative()
  // CLOEXEC: a child the test execs must not keep its parent's token alive after the parent died.
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
  if (fd < 0) throw new Error(`faultline: socket(AF_UNIX): errno ${koffi.errno()}`)
  return fd
}

/** Binds the name; returns the fd (the name lives as long as it stays open) or undefined when it is taken. */
export function bindAbstract(name: string): number | undefined {
  const { libc, koffi } = getNative()
  const fd = socket()
  const { addr, len } = address(name)
  if (libc.bind(fd, addr, len) === 0) return fd
  const errno = koffi.errno()
  libc.close(fd)
  if (errno === EADDRINUSE) return undefined
  throw new Error(`faultline: bind the abstract socket @${name}: errno ${errno}`)
}

export function closeAbstract(fd: number): void {
  getNative().libc.close(fd)
}

/**
 * Whether some process holds the name. connect() on a datagram socket only looks the peer up
 * (nothing is queued on it). Anything but "no such name" counts as held: a sweep that cannot tell
 * must leave the object alone.
 */
export function abstractHeld(name: string): boolean {
  const { libc, koffi } = getNative()
  const fd = socket()
  try {
    const { addr, len } = address(name)
    if (libc.connect(fd, addr, len) === 0) return true
    const errno = koffi.errno()
    return errno !== ECONNREFUSED && errno !== ENOENT
  } finally {
    libc.close(fd)
  }
}
