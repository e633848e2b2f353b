/**
 * The network interfaces of the calling thread's network namespace, asked of the kernel itself:
 * names from /proc/net/dev (which follows the caller's namespace), index, flags and link type by
 * ioctl on a socket of that namespace. Not /sys/class/net: sysfs shows the namespace it was
 * mounted in, so after `nsenter --net` (setns without a new mount) it names another namespace's
 * devices and their ifindexes, and faultline would act on the wrong interfaces.
 * The list is kept between calls while the kernel reports no link change (kernel/link-watch.ts):
 * every arming asks for it, and listing costs ~100 µs where the check costs ~2.
 */
import fs from 'node:fs'
import { getNative } from '../libbpf/native.js'
import { linksMayHaveChanged } from './link-watch.js'

export interface NetDev {
  name: string
  ifindex: number
  /** ARPHRD_* link type (1 Ethernet, 772 loopback, 65534 none: tun, wireguard). */
  type: number
  /** Administratively up with carrier (IFF_UP and IFF_RUNNING): what operstate up/unknown means. */
  up: boolean
}

const SIOCGIFFLAGS = 0x8913
const SIOCGIFHWADDR = 0x8927
const SIOCGIFINDEX = 0x8933
const IFF_UP = 0x1
const IFF_RUNNING = 0x40
const IFNAMSIZ = 16
const AF_INET = 2
const SOCK_DGRAM = 2
const SOCK_CLOEXEC = 0x80000

let devBuf = Buffer.alloc(4096)

/** The interface names of this network namespace (/proc/net/dev: "  name: counters..."). */
function readNetDeviceNames(): string[] {
  // Opened for each call (an fd kept open would stay in the namespace it was opened in), read
  // into one buffer: every arming's leftovers check reads it.
  let fd: number | undefined
  try {
    fd = fs.openSync('/proc/net/dev', 'r')
    let n = 0
    for (let got = 1; got > 0; n += got) {
      if (n === devBuf.length) devBuf = Buffer.concat([devBuf, Buffer.alloc(devBuf.length)])
      got = fs.readSync(fd, devBuf, n, devBuf.length - n, null)
    }
    const names: string[] = []
    const lines = devBuf.toString('latin1', 0, n).split('\n')
    for (let i = 2; i < lines.length; i++) {
      const name = lines[i]!.split(':')[0]!.trim()
      if (name) names.push(name)
    }
    return names
  } catch {
    return []
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

/** One ioctl on a struct ifreq for `name`; the 24-byte union after the name, or undefined if the device is gone. */
function ifreq(fd: number, name: string, request: number): Buffer | undefined {
  const req = Buffer.alloc(40)
  req.write(name, 0, IFNAMSIZ - 1, 'latin1')
  return getNative().libc.ioctl(fd, request, req) === 0 ? req.subarray(IFNAMSIZ) : undefined
}

function withSocket<T>(fn: (fd: number) => T): T {
  const { libc } = getNative()
  const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)
  if (fd < 0) throw new Error('socket(AF_INET, SOCK_DGRAM) failed: cannot ask the kernel for its interfaces')
  try {
    return fn(fd)
  } finally {
    libc.close(fd)
  }
}

/** One interface, or undefined when there is none of that name in this namespace. */
function query(fd: number, name: string): NetDev | undefined {
  const index = ifreq(fd, name, SIOCGIFINDEX)
  const flags = ifreq(fd, name, SIOCGIFFLAGS)
  const hw = ifreq(fd, name, SIOCGIFHWADDR)
  if (!index || !flags || !hw) return undefined
  const f = flags.readUInt16LE(0)
  return { name, ifindex: index.readInt32LE(0), type: hw.readUInt16LE(0), up: (f & IFF_UP) !== 0 && (f & IFF_RUNNING) !== 0 }
}

let known: { names: readonly string[]; devices?: readonly NetDev[] } | undefined

/** `known`, emptied first when a link may have changed since it was filled. */
function current(): NonNullable<typeof known> {
  const changed = linksMayHaveChanged() // first: a change while listing shows at the next call
  if (!known || changed) {
    const fresh = { names: readNetDeviceNames() }
    // A failed read is not kept: the next call tries again.
    known = fresh.names.length ? fresh : undefined
    return fresh
  }
  return known
}

/** The interface names of this network namespace. */
export function netDeviceNames(): readonly string[] {
  return current().names
}

/** Every interface of this network namespace. */
export function netDevices(): readonly NetDev[] {
  const k = current()
  k.devices ??= withSocket((fd) => k.names.map((n) => query(fd, n)).filter((d): d is NetDev => d !== undefined))
  return k.devices
}

/** One interface of this network namespace, or undefined. */
export function netDevice(name: string): NetDev | undefined {
  if (name.length >= IFNAMSIZ || name.includes('/')) return undefined
  return withSocket((fd) => query(fd, name))
}
