/** Every fault backend, by mechanism. A new mechanism adds a file here and one line below. */
import type { Mechanism } from '../../kernel/mechanisms.js'
import { cgroupBackend } from './cgroup.js'
import { sysFmodretBackend } from './sys-fmodret.js'
import { sysKprobeBackend } from './sys-kprobe.js'
import { lsmBackend, securityFmodretBackend } from './lsm.js'
import type { FaultBackend } from './types.js'

export const BACKENDS: Record<Mechanism, FaultBackend> = {
  cgroup: cgroupBackend,
  'fmod-ret-syscall': sysFmodretBackend,
  'kprobe-override': sysKprobeBackend,
  lsm: lsmBackend,
  'security-fmod-ret': securityFmodretBackend,
}

export type { FaultBackend, PlannedRule } from './types.js'
