/** Every fault backend, by mechanism. A new mechanism adds a file here and one line below. */
import type { Mechanism } from '../../kernel/mechanisms.js'
import { cgroupBackend } from './cgroup.js'
import type { FaultBackend } from './types.js'

export const BACKENDS: Record<Mechanism, FaultBackend> = {
  cgroup: cgroupBackend,
}

export type { FaultBackend, PlannedRule } from './types.js'
