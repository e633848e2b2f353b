/** The TypeScript mirror of bpf/include/delay.h (test/unit/delay.test.ts checks the sizes). */
export const SIZEOF_DELAY_EVENT = 24
export const SIZEOF_DELAY_CFG = 8

export interface DelayEvent {
  /** CLOCK_MONOTONIC ns (bpf_ktime_get_ns, process.hrtime.bigint) when SIGSTOP was sent. */
  stopNs: bigint
  /** Global tgid: the key of fl_delay_stopped. */
  tgid: number
  /** Pid in the arming process's namespace: what kill() takes there. */
  vpid: number
  /** Index of the rule that fired. */
  rule: number
}

export function decodeDelayEvent(b: Buffer): DelayEvent {
  return { stopNs: b.readBigUInt64LE(0), tgid: b.readUInt32LE(8), vpid: b.readUInt32LE(12), rule: b.readUInt32LE(16) }
}

export function encodeDelayCfg(resumerVpid: number): Buffer {
  const b = Buffer.alloc(SIZEOF_DELAY_CFG)
  b.writeUInt32LE(resumerVpid, 0)
  return b
}

/** Per rule index: the pause in ns and its jitter, or null for a rule that is not a delay rule. */
export type DelaySpec = ([delayNs: number, jitterNs: number] | null)[]

/** The pause for one stop: uniform in [delay - jitter, delay + jitter]. */
export function drawPauseNs(spec: [number, number], random: () => number = Math.random): bigint {
  const [delay, jitter] = spec
  return BigInt(Math.round(delay - jitter + random() * 2 * jitter))
}
