/**
 * cls_bpf filters (direct-action) on a clsact qdisc: TC programs on kernels without tcx (< 6.6).
 * They are not bpf_links and survive a SIGKILL of their process, so each is tagged (priority
 * FL_TC_PRIORITY, handle = the owner's pid) and sweepClsBpf(), run before attaching, removes
 * what dead owners left. The state shared between processes is in ../tc-state.ts.
 */
import fs from 'node:fs'
import os from 'node:os'
import createDebug from 'debug'
import { LibbpfError, errnoName } from '../errors.js'
import type { BpfProgram } from '../object.js'
import { BPF_TC_EGRESS, BPF_TC_INGRESS, tc } from '../tc.js'
import * as state from '../tc-state.js'
import type { Link } from './link.js'

const debug = createDebug('faultline:net')
const { EEXIST, ENOENT } = os.constants.errno

/** The priority that marks faultline's filters ("f17"): libbpf takes 1..65535. */
export const FL_TC_PRIORITY = 0x0f17
const POINT = { ingress: BPF_TC_INGRESS, egress: BPF_TC_EGRESS } as const
type Direction = keyof typeof POINT

/** This process's filters, as "ifindex:direction". */
const live = new Set<string>()
const key = (ifindex: number, direction: Direction) => `${ifindex}:${direction}`

export interface ClsBpfOptions {
  program: BpfProgram
  ifindex: number
  direction: Direction
  /** Interface name, for messages and for listing its filters (looked up when absent). */
  interfaceName?: string
}

function nameOf(ifindex: number): string {
  for (const name of fs.readdirSync('/sys/class/net')) {
    if (Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')) === ifindex) return name
  }
  throw new LibbpfError(`find the interface of ifindex ${ifindex}`, ENOENT)
}

export function attachClsBpf({ program, ifindex, direction, interfaceName }: ClsBpfOptions): Link {
  const dev = interfaceName ?? nameOf(ifindex)
  const what = `cls_bpf ${direction} on ${dev} (${program.name})`
  return state.withTcLock(() => {
    state.claimOwner()
    try {
      // Skip the create when we hold a filter there: libbpf would log the kernel's EEXIST as a warning.
      const created = live.has(key(ifindex, 'ingress')) || live.has(key(ifindex, 'egress')) ? -EEXIST : tc.createClsact(ifindex)
      if (created === 0) {
        state.markCreated(ifindex, dev)
        debug('created the clsact qdisc of %s', dev)
      } else if (created !== -EEXIST) {
        throw new LibbpfError(`create the clsact qdisc of ${dev}`, -created)
      }
      const r = tc.attach(ifindex, POINT[direction], { handle: process.pid, priority: FL_TC_PRIORITY }, program.fd)
      if (r < 0) throw new LibbpfError(`attach ${what}`, -r)
    } catch (err) {
      releaseClsact(ifindex, dev)
      if (!live.size) state.releaseOwner()
      throw err
    }
    live.add(key(ifindex, direction))
    debug('attached %s (priority %d, handle %d)', what, FL_TC_PRIORITY, process.pid)
    return new ClsBpfLink(ifindex, dev, direction, what)
  })
}

class ClsBpfLink implements Link {
  /** A filter has no fd: it is owned by the tag, not by this process. */
  readonly fd = -1
  private destroyed = false
  constructor(
    private readonly ifindex: number,
    private readonly dev: string,
    private readonly direction: Direction,
    readonly description: string,
  ) {}

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    // Never throws (disarm destroys every link): what is left is swept at the next arming.
    try {
      state.withTcLock(() => {
        const r = tc.detach(this.ifindex, POINT[this.direction], { handle: process.pid, priority: FL_TC_PRIORITY })
        if (r < 0 && r !== -ENOENT) debug('detach %s: %s; the next arming sweeps it', this.description, errnoName(-r))
        live.delete(key(this.ifindex, this.direction))
        releaseClsact(this.ifindex, this.dev)
        if (!live.size) state.releaseOwner()
      })
    } catch (err) {
      debug('destroy %s: %s', this.description, (err as Error).message)
    }
  }
}

/** Deletes the interface's clsact if faultline created it and nothing is left on it. Call under the lock. */
function releaseClsact(ifindex: number, dev: string): void {
  if (live.has(key(ifindex, 'ingress')) || live.has(key(ifindex, 'egress')) || !state.isCreated(ifindex)) return
  try {
    if (!state.clsactEmpty(dev)) return debug('keeping the clsact qdisc of %s: other filters are on it', dev)
    const r = tc.destroyClsact(ifindex)
    if (r < 0 && r !== -ENOENT && r !== -os.constants.errno.EINVAL) return debug('delete the clsact qdisc of %s: %s', dev, errnoName(-r))
    state.unmarkCreated(ifindex)
    debug('deleted the clsact qdisc of %s', dev)
  } catch (err) {
    debug('release the clsact qdisc of %s: %s', dev, (err as Error).message)
  }
}

/**
 * Removes faultline filters whose owner is dead (or, with this process's pid, that this process
 * does not hold: a crashed run with the same pid), then the clsact qdiscs faultline created
 * that are left empty. Filters of live processes are never touched.
 */
export function sweepClsBpf(): void {
  state.withTcLock(() => {
    const devices = state.clsactDevices()
    for (const dev of devices) {
      for (const direction of ['ingress', 'egress'] as const) {
        for (const f of state.listFilters(dev.name, direction)) {
          if (f.pref !== FL_TC_PRIORITY || f.kind !== 'bpf') continue
          const stale = f.handle === process.pid ? !live.has(key(dev.ifindex, direction)) : !state.ownerAlive(f.handle)
          if (!stale) continue
          const r = tc.detach(dev.ifindex, POINT[direction], { handle: f.handle, priority: FL_TC_PRIORITY })
          debug('sweep: the %s filter of process %d on %s: %s', direction, f.handle, dev.name, r < 0 ? errnoName(-r) : 'removed')
        }
      }
    }
    for (const ifindex of state.createdClsacts()) {
      const dev = devices.find((d) => d.ifindex === ifindex)
      if (dev) releaseClsact(ifindex, dev.name)
      else state.unmarkCreated(ifindex) // the interface, or its clsact, is gone
    }
    for (const pid of state.deadOwnerRecords()) state.forgetOwner(pid)
  })
}

/** Whether this process's filter is on that hook (bpf_tc_query), for tests and doctor. */
export function clsBpfAttached(ifindex: number, direction: Direction, owner = process.pid): boolean {
  return tc.query(ifindex, POINT[direction], { handle: owner, priority: FL_TC_PRIORITY }) > 0
}
