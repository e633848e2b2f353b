/**
 * This process as the kernel numbers it. Inside a pid namespace (a container, `unshare --pid`)
 * process.pid is the namespace's number, while BPF programs see global tgids; writing
 * process.pid to a map would target whatever host process has that number. So every pid
 * faultline hands the kernel comes from here: the fl_whoami iterator (bpf/process.bpf.c),
 * read once by the main thread, reports the reader's global tgid/tid and its pid namespace.
 */
import createDebug from 'debug'
import { attachIter, runIter } from '../libbpf/index.js'
import type { Instance } from './instance.js'

const debug = createDebug('faultline:engine')

export interface KernelIdentity {
  /** Global tgid of this process: what fl_targets keys and bpf_get_current_pid_tgid() use. */
  tgid: number
  /** Global tid of the main thread (faultline's own thread, exempt while it works). */
  tid: number
  /** This process's pid namespace: depth (0 = the initial one) and nsfs inode. */
  pidnsLevel: number
  pidnsIno: number
}

let cached: KernelIdentity | undefined

export function kernelIdentity(inst: Instance): KernelIdentity {
  if (cached) return cached
  const link = attachIter(inst.process.program('fl_whoami'))
  let out: Buffer
  try {
    out = runIter(link)
  } finally {
    link.destroy()
  }
  if (out.length < 24) throw new Error(`faultline: the fl_whoami iterator printed ${out.length} bytes, expected 24`)
  const nsTgid = out.readUInt32LE(8)
  if (nsTgid !== process.pid) {
    // Only the main thread reads it; anything else means the numbers cannot be trusted.
    throw new Error(`faultline: the kernel reports this process as pid ${nsTgid} in its namespace, but process.pid is ${process.pid}`)
  }
  cached = { tgid: out.readUInt32LE(0), tid: out.readUInt32LE(4), pidnsLevel: out.readUInt32LE(12), pidnsIno: out.readUInt32LE(16) }
  debug('identity: global tgid %d, pid %d in pid namespace %d (level %d)', cached.tgid, process.pid, cached.pidnsIno, cached.pidnsLevel)
  return cached
}
