/**
 * The names of the mechanisms, the attach routes a rule of config.syscalls can take; what each
 * needs of the kernel and which rules it serves is kernel/mechanisms.ts's.
 */
export const MECHANISM_NAMES = ['cgroup', 'fmod-ret-syscall', 'kprobe-override', 'lsm', 'security-fmod-ret', 'send-signal', 'fexit-corrupt'] as const
export type Mechanism = (typeof MECHANISM_NAMES)[number]

/** What `mechanism:` may pin: every route but send-signal, the delay rules' only one, which a rule never names. */
export const MECHANISMS = MECHANISM_NAMES.filter((m): m is Exclude<Mechanism, 'send-signal'> => m !== 'send-signal')
export type PinnableMechanism = (typeof MECHANISMS)[number]
