/**
 * What every family shares in the maps of bpf/include/maps.h besides its rules: fl_state (when
 * armed, the scope, faultline's own exemptions) and fl_comms (the comm bits, engine/comms.ts).
 */
import fs from 'node:fs'
import type { FailureConfig } from '../config/types.js'
import { commBits } from './comms.js'
import type { RuleMapsState } from './syscall-rules/syscall-rule-maps.js'
import { kernelIdentity } from './identity.js'
import type { Instance } from './instance.js'
import { FL_STATE_COMM_FILTER, FL_STATE_EXCLUDE_ROOT, FL_STATE_NEED_PATH, FL_STATE_SITES, FL_STATE_SYSTEM, SIZEOF, encodeComm, encodeState, u32Key } from './shared-layout.js'
import { resetTrackAdds } from './targets.js'

export interface StateWriter {
  /** Rewrites fl_state with faultline's own thread exempt (true) or not. */
  exempt(on: boolean): void
}

/** The inode of the test runner's IPC channel (Vitest forks, Jest workers): never failed. */
function runnerChannelInode(): bigint {
  const fd = (process as { channel?: { fd?: number } }).channel?.fd
  if (typeof fd !== 'number' || fd < 0) return 0n
  try {
    return BigInt(fs.fstatSync(fd).ino)
  } catch {
    return 0n
  }
}

/** Writes fl_comms and fl_state, with faultline's thread exempt; `rules` is what the families' rule maps hold. */
export function writeSharedState(inst: Instance, config: FailureConfig, rules: RuleMapsState, armedNs: bigint, options: { callSites?: boolean } = {}): StateWriter {
  const { maps } = inst
  maps.fl_comms.clear()
  for (const [comm, bit] of commBits(config)) maps.fl_comms.update(encodeComm(comm), u32Key(bit))
  let flags = 0
  if (config.target.comm.length) flags |= FL_STATE_COMM_FILTER
  if (config.target.scope === 'system') flags |= FL_STATE_SYSTEM
  if (config.target.scope === 'children') flags |= FL_STATE_EXCLUDE_ROOT
  if (rules.needPath) flags |= FL_STATE_NEED_PATH
  if (options.callSites) flags |= FL_STATE_SITES
  const exemptIno = runnerChannelInode()
  // The kernel's numbers for this process, not process.pid: they differ in a pid namespace.
  const me = kernelIdentity(inst)
  resetTrackAdds(inst)
  const writer: StateWriter = {
    exempt(on) {
      maps.fl_state.update(
        u32Key(0),
        encodeState({
          armedNs, flags, nRules: rules.nRules, rootTgid: me.tgid, exemptTid: on ? me.tid : 0, exemptIno,
          pidnsLevel: me.pidnsLevel, pidnsIno: me.pidnsIno,
        }),
      )
    },
  }
  writer.exempt(true)
  return writer
}

/** A zero fl_state (no rules, armed_ns 0) makes every syscall and tracking program a no-op at once, kept or not. */
export function zeroState(inst: Instance): void {
  inst.maps.fl_state.update(u32Key(0), Buffer.alloc(SIZEOF.fl_state))
}
