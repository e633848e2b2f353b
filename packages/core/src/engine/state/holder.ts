/**
 * Whether the holder of an abstract name (the tc lock, an owner token) may be trusted as faultline
 * of a privileged user: the only processes that may change tc state are root or hold what
 * faultline needs, so a holder without that is a squatter, whatever name it took.
 * Its credentials are the listener's (SO_PEERCRED, fixed at listen()); its capabilities are read
 * from /proc/<pid>/status, checked to still be that process (its pidfd where the kernel gives one,
 * else its uid matches the credentials), so a pid reused by another user's process does not pass.
 * Capabilities count only in this process's user namespace: any user can make one of their own
 * (`unshare -Ur`), where they hold every capability, over nothing of ours.
 */
import fs from 'node:fs'
import { getNative } from '../../libbpf/native.js'
import { CAPS, holds, type CapName } from '../../kernel/privileges.js'
import { abstractPeer, legacyHeld } from './abstract-socket.js'
import { datagramOwnerUid } from './unix-diag.js'

export type Verdict =
  | { held: false }
  | { held: true; trusted: true; pid: number; uid: number }
  /** pid/uid when known; why: what disqualifies it. */
  | { held: true; trusted: false; pid?: number; uid?: number; why: string }

const NEEDED: readonly CapName[] = ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN']
const POLLIN = 1

/** The process's effective uid and capability set, from /proc/<pid>/status. */
function statusOf(pid: number): { euid: number; capEff: bigint } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'latin1')
    const euid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(text)?.[1])
    const hex = /^CapEff:\s+([0-9a-f]+)/m.exec(text)?.[1]
    return hex && Number.isInteger(euid) ? { euid, capEff: BigInt(`0x${hex}`) } : undefined
  } catch {
    return undefined
  }
}

/** The process's uid_map, readable by anyone: an unprivileged user's namespace maps only their own uid. */
function uidMap(pid: number | 'self'): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/uid_map`, 'latin1').replace(/\s+/g, ' ').trim()
  } catch {
    return undefined
  }
}

/** Whether the process a pidfd names has exited (the pidfd polls readable then). */
function exited(pidfd: number): boolean {
  const pfd = Buffer.alloc(8)
  pfd.writeInt32LE(pidfd, 0)
  pfd.writeInt16LE(POLLIN, 4)
  return getNative().libc.poll(pfd, 1, 0) > 0 && (pfd.readInt16LE(6) & POLLIN) !== 0
}

/** Judges whoever listens on the abstract name `name`. */
export function judgeHolder(name: string): Verdict {
  const peer = abstractPeer(name)
  if (!peer.held) return legacyHeld(name) ? judgeLegacy(name) : peer
  if ('unknown' in peer) return { held: true, trusted: false, why: `its holder cannot be identified: ${peer.unknown}` }
  const { pid, uid, pidfd } = peer
  try {
    if (uid === 0) return { held: true, trusted: true, pid, uid }
    if (pid === 0) return { held: true, trusted: false, pid, uid, why: 'a non-root process whose pid namespace is out of sight' }
    const st = statusOf(pid)
    if (!st || (pidfd >= 0 && exited(pidfd))) return { held: true, trusted: false, pid, uid, why: 'its listener has exited (a pid may have been reused since)' }
    if (st.euid !== uid) return { held: true, trusted: false, pid, uid, why: `pid ${pid} now runs as uid ${st.euid}: not the process that took the name` }
    const map = uidMap(pid)
    if (map === undefined || map !== uidMap('self')) return { held: true, trusted: false, pid, uid, why: 'its capabilities are those of a user namespace of its own' }
    const effective = Object.fromEntries(Object.entries(CAPS).map(([c, bit]) => [c, ((st.capEff >> BigInt(bit)) & 1n) === 1n])) as Record<CapName, boolean>
    const missing = NEEDED.filter((c) => !holds(c, effective))
    if (missing.length) return { held: true, trusted: false, pid, uid, why: `not root, and lacks ${missing.join(', ')}` }
    return { held: true, trusted: true, pid, uid }
  } finally {
    if (pidfd >= 0) getNative().libc.close(pidfd)
  }
}

/**
 * Only the datagram name is held: an older faultline version (root: trusted, as it was before),
 * or anyone else's socket. Its owner's uid comes from sock_diag; there is no pid to check.
 */
export function judgeLegacy(name: string): Verdict {
  const uid = datagramOwnerUid(name)
  if (uid === 0) return { held: true, trusted: true, pid: 0, uid }
  return { held: true, trusted: false, ...(uid === undefined ? {} : { uid }), why: 'a datagram socket of that name (as faultline before issue 23 held) of a non-root user' }
}

/** "pid 123 (uid 65534)", or what is known. */
export function describeHolder(v: Exclude<Verdict, { held: false }>): string {
  if (v.pid === undefined) return v.uid === undefined ? 'an unidentified process' : `a process of uid ${v.uid}`
  return `pid ${v.pid || '(out of sight)'} (uid ${v.uid})`
}
