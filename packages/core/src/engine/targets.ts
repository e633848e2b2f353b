/**
 * Fills fl_targets at arming: the caller and the descendants it already has (a server started
 * in beforeAll), or every process with a matching comm for scope 'system'. The fork tracepoint
 * is attached before this runs, so a process forked by one we insert is caught by the kernel;
 * one forked by a process we have not inserted yet is caught by the next pass. Passes repeat
 * until one finds nothing new.
 */
import type { NormalizedTarget } from '../config/types.js'
import type { BpfMap } from '../libbpf/index.js'
import { BPF_NOEXIST } from '../libbpf/index.js'
import { encodeTarget, u32Key, FL_TARGET_FAULT, FL_TARGET_TRACK } from './layout.js'
import { descendantsOf, readProcTable, type ProcEntry } from './proc.js'

const MAX_PASSES = 5

export function commAllowed(target: NormalizedTarget, comm: string): boolean {
  // The kernel keeps 15 bytes of comm; the config module refuses longer names.
  return target.comm.length === 0 || target.comm.includes(comm.slice(0, 15))
}

/** Inserts the initial target set; returns the pids inserted. */
export function seedTargets(map: BpfMap, target: NormalizedTarget, rootPid: number, armedNs: bigint): number[] {
  const inserted = new Set<number>()
  const insert = (pid: number, flags: number) => {
    if (inserted.has(pid)) return
    inserted.add(pid)
    try {
      map.update(u32Key(pid), encodeTarget(flags, armedNs), BPF_NOEXIST)
    } catch (err) {
      // EEXIST: the kernel already added it from a fork it saw; its flags are right.
      if ((err as { errno?: number }).errno !== 17) throw err
    }
  }
  const flagsFor = (e: Pick<ProcEntry, 'comm'>) => FL_TARGET_TRACK | (commAllowed(target, e.comm) ? FL_TARGET_FAULT : 0)

  if (target.scope !== 'system') {
    const self = readProcTable().find((e) => e.pid === rootPid)
    insert(rootPid, target.scope === 'children' ? FL_TARGET_TRACK : flagsFor(self ?? { comm: '' }))
  }
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const table = readProcTable()
    const found =
      target.scope === 'system' ? table.filter((e) => commAllowed(target, e.comm)) : descendantsOf(rootPid, table)
    const fresh = found.filter((e) => !inserted.has(e.pid))
    if (fresh.length === 0) break
    for (const e of fresh) insert(e.pid, flagsFor(e))
  }
  return [...inserted]
}
