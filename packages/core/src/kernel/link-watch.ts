/**
 * Tells whether a network interface of this namespace may have changed since the last call: a
 * NETLINK_ROUTE socket joined to the link multicast group, which the kernel sends an RTM_NEWLINK
 * or RTM_DELLINK to on every creation, removal, rename, up/down and carrier change. One poll() with
 * no wait answers it (~2 µs), where listing the interfaces again costs ~100 µs per arming
 * (kernel/netdev.ts). A full queue (ENOBUFS), an error, or a socket that cannot be made all count
 * as "changed": the answer may be a false alarm, never a missed change.
 *
 * A socket belongs to the namespace it was opened in, so the watcher remembers that namespace
 * and starts over when the calling thread is in another one (setns from native code).
 */
import fs from 'node:fs'
import createDebug from 'debug'
import { getNative } from '../libbpf/native.js'

const debug = createDebug('faultline:netdev')

const AF_NETLINK = 16
const SOCK_RAW = 3
const SOCK_NONBLOCK = 0x800
const SOCK_CLOEXEC = 0x80000
const NETLINK_ROUTE = 0
/** RTMGRP_LINK: the group of RTM_NEWLINK / RTM_DELLINK notifications. */
const RTMGRP_LINK = 1
const POLLIN = 0x1

interface Watch {
  fd: number
  /** The namespace the socket was opened in (readlink of /proc/thread-self/ns/net: "net:[ino]"). */
  netns: string
}

let watch: Watch | undefined
const pollfd = Buffer.alloc(8)
const drainBuf = Buffer.alloc(16 * 1024)

const currentNetns = (): string => fs.readlinkSync('/proc/thread-self/ns/net')

function open(netns: string): Watch | undefined {
  const { libc } = getNative()
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE)
  if (fd < 0) return undefined
  // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; u32 nl_pid; u32 nl_groups }
  const addr = Buffer.alloc(12)
  addr.writeUInt16LE(AF_NETLINK, 0)
  addr.writeUInt32LE(RTMGRP_LINK, 8)
  if (libc.bind(fd, addr, addr.length) !== 0) {
    libc.close(fd)
    return undefined
  }
  return { fd, netns }
}

/** Reads every queued notification; false when the socket failed (then it is closed). */
function drain(fd: number): boolean {
  for (;;) {
    try {
      if (fs.readSync(fd, drainBuf, 0, drainBuf.length, null) <= 0) return true
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EAGAIN') return true
      if (code === 'ENOBUFS') continue // notifications were lost: already counted as a change
      return false
    }
  }
}

/**
 * True when an interface may have changed since the previous call (always true for the first
 * call, and for the first one in another namespace). Call it before listing the interfaces: a
 * change made while they are listed then shows at the next call.
 */
export function linksMayHaveChanged(): boolean {
  let netns: string
  try {
    netns = currentNetns()
  } catch {
    return true
  }
  if (watch && watch.netns !== netns) {
    getNative().libc.close(watch.fd)
    watch = undefined
  }
  if (!watch) {
    watch = open(netns)
    debug(watch ? 'watching the interfaces of %s' : 'cannot watch the interfaces of %s: listing them at every arming', netns)
    return true
  }
  pollfd.writeInt32LE(watch.fd, 0)
  pollfd.writeInt16LE(POLLIN, 4)
  pollfd.writeInt16LE(0, 6)
  const ready = getNative().libc.poll(pollfd, 1, 0)
  if (ready === 0) return false
  if (ready < 0 || !drain(watch.fd)) {
    getNative().libc.close(watch.fd)
    watch = undefined
  }
  return true
}
