/**
 * The errno family: the rules of config.syscalls that fail a call with an errno (neither `delay`
 * nor `corrupt`), each served by the backend of the mechanism (attach route) chosen for it
 * (kernel/mechanisms.ts). A new route adds a file here and one entry in ERRNO_BACKENDS.
 */
import type { FaultBackend } from '../syscall-rules/backend.js'
import { syscallRuleFamily } from '../syscall-rules/syscall-rule-family.js'
import { cgroupBackend } from './cgroup-backend.js'
import { sysFmodretBackend } from './sys-fmodret-backend.js'
import { sysKprobeBackend } from './sys-kprobe-backend.js'
import { lsmBackend, securityFmodretBackend } from './lsm-backend.js'

/** Its routes, in the order they prepare, write and attach. */
export const ERRNO_BACKENDS: readonly FaultBackend[] = [cgroupBackend, sysFmodretBackend, sysKprobeBackend, lsmBackend, securityFmodretBackend]

export const errnoFamily = syscallRuleFamily('errno', 'errno', ERRNO_BACKENDS)
