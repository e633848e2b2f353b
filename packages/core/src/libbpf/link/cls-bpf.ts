/**
 * cls_bpf filters (direct-action) on an interface's clsact qdisc: TC programs on kernels without
 * tcx (< 6.6). They are not bpf_links: they survive a SIGKILL of their process, so the caller
 * tags them (priority, handle) and sweeps them (engine/state); the clsact qdisc must exist already.
 */
import os from 'node:os'
import createDebug from 'debug'
import { LibbpfError, errnoName } from '../errors.js'
import type { BpfProgram } from '../object.js'
import { BPF_TC_EGRESS, BPF_TC_INGRESS, tc, type TcFilterId } from '../tc.js'
import type { Link } from './link.js'

const debug = createDebug('faultline:net')
const { ENOENT } = os.constants.errno

const POINT = { ingress: BPF_TC_INGRESS, egress: BPF_TC_EGRESS } as const
type Direction = keyof typeof POINT

export interface ClsBpfOptions {
  program: BpfProgram
  ifindex: number
  direction: Direction
  /** The filter's tag: priority 1..65535 and a nonzero u32 handle. */
  id: TcFilterId
  /** Interface name, for messages. */
  interfaceName?: string
}

export function attachClsBpf({ program, ifindex, direction, id, interfaceName }: ClsBpfOptions): Link {
  const what = `cls_bpf ${direction} on ${interfaceName ?? `ifindex ${ifindex}`} (${program.name})`
  const r = tc.attach(ifindex, POINT[direction], id, program.fd)
  if (r < 0) throw new LibbpfError(`attach ${what}`, -r)
  debug('attached %s (priority %d, handle %s)', what, id.priority, id.handle.toString(16))
  return new ClsBpfLink(ifindex, direction, id, what)
}

/** Removes a filter by its tag (a sweep of what a dead process left); returns 0 or -errno. */
export function detachClsBpf(ifindex: number, direction: Direction, id: TcFilterId): number {
  return tc.detach(ifindex, POINT[direction], id)
}

class ClsBpfLink implements Link {
  /** A filter has no fd: it is owned by its tag, not by this process. */
  readonly fd = -1
  private destroyed = false
  constructor(
    private readonly ifindex: number,
    private readonly direction: Direction,
    private readonly id: TcFilterId,
    readonly description: string,
  ) {}

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    // Never throws (disarm destroys every link): what is left is swept later.
    const r = tc.detach(this.ifindex, POINT[this.direction], this.id)
    if (r < 0 && r !== -ENOENT) debug('detach %s: %s; a later sweep removes it', this.description, errnoName(-r))
  }
}

/** Whether a filter with this tag is on that hook (bpf_tc_query), for tests and doctor. */
export function clsBpfAttached(ifindex: number, direction: Direction, id: TcFilterId): boolean {
  return tc.query(ifindex, POINT[direction], id) > 0
}
