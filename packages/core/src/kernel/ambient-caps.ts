/**
 * Capabilities for the helper processes faultline runs (tc, ip). A process that got its
 * capabilities from file capabilities (`setcap ... ./node`) or a container runtime's permitted
 * set, without running as root, loses them at exec: its children run unprivileged. Raising a
 * capability into the ambient set (after adding it to the inheritable set) makes the child keep
 * it. It is raised for the one synchronous spawn and lowered right after, so the test's own
 * children never inherit it. Capability sets are per thread: this runs on the thread that spawns.
 */
import { getNative } from '../libbpf/native.js'

const LINUX_CAPABILITY_VERSION_3 = 0x20080522
const PR_CAP_AMBIENT = 47
const PR_CAP_AMBIENT_RAISE = 2
const PR_CAP_AMBIENT_LOWER = 3

export interface CapSets { effective: bigint; permitted: bigint; inheritable: bigint }

function header(): Buffer {
  const h = Buffer.alloc(8)
  h.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0)
  return h
}

/** The calling thread's capability sets (capget(2), ~2 µs), or undefined when the call fails. */
export function capget(): CapSets | undefined {
  const data = Buffer.alloc(24)
  if (getNative().libc.capget(header(), data) !== 0) return undefined
  const word = (o: number) => BigInt(data.readUInt32LE(o)) | (BigInt(data.readUInt32LE(o + 12)) << 32n)
  return { effective: word(0), permitted: word(4), inheritable: word(8) }
}

function capset(s: CapSets): boolean {
  const data = Buffer.alloc(24)
  for (const [i, v] of [s.effective, s.permitted, s.inheritable].entries()) {
    data.writeUInt32LE(Number(v & 0xffffffffn), i * 4)
    data.writeUInt32LE(Number(v >> 32n), 12 + i * 4)
  }
  return getNative().libc.capset(header(), data) === 0
}

/**
 * Runs fn with the given capabilities in the ambient set, so that processes it spawns
 * synchronously keep them. Capabilities this process does not have are left out (the child
 * then fails with its own EPERM, which the caller reports naming the capability). Root
 * (euid 0) needs nothing: exec gives a root child its capabilities.
 */
export function withAmbientCaps<T>(caps: number[], fn: () => T): T {
  if (process.geteuid?.() === 0) return fn()
  const sets = capget()
  const held = sets ? caps.filter((c) => (sets.permitted >> BigInt(c)) & 1n) : []
  if (!sets || !held.length) return fn()
  const libc = getNative().libc
  const inheritable = held.reduce((m, c) => m | (1n << BigInt(c)), sets.inheritable)
  const raised = capset({ ...sets, inheritable }) ? held.filter((c) => libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) === 0) : []
  try {
    return fn()
  } finally {
    for (const c of raised) libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, c, 0, 0)
    capset(sets)
  }
}
