/**
 * Limits and op codes of bpf/include (faultline.h, net.h): the one owner of these facts in user
 * space. A leaf: config validates against it, kernel/ names mechanisms by it, and the engine's
 * map layouts (engine/shared-layout.ts, engine/network/net-layout.ts) re-export it; it imports nothing.
 */

/** faultline.h: rules in one armed config, and the comm filter's size and entries. */
export const FL_MAX_RULES = 64
export const FL_COMM_LEN = 16
export const FL_MAX_COMMS = 32

/** net.h: network rules in one armed config. */
export const FL_MAX_NET_RULES = 16

/** enum fl_op */
export const FL_OP = {
  connect: 1,
  bind: 2,
  sendmsg: 3,
  socket: 4,
  getsockopt: 5,
  setsockopt: 6,
} as const
export type FlOpName = keyof typeof FL_OP

/** Syscall-level mechanisms number their ops FL_OP_SYS_BASE + the syscall number. */
export const FL_OP_SYS_BASE = 1000
/** Delay rules (bpf/delay.bpf.c) number theirs FL_OP_DELAY_BASE + the syscall number. */
export const FL_OP_DELAY_BASE = 2000
/** Corrupt rules (bpf/corrupt.bpf.c) number theirs FL_OP_CORRUPT_BASE + the syscall number. */
export const FL_OP_CORRUPT_BASE = 3000
