/**
 * The resumer: a helper process faultline starts for an arming with delay rules. BPF stops a
 * target (SIGSTOP) and sends { tgid, vpid, stop time, rule } through a ring buffer; this process
 * sends SIGCONT once the rule's delay (+- jitter) has passed since the stop. It is outside the
 * target set (the arming process removes it, and the BPF side never stops it).
 *
 * It always resumes what was stopped: when its stdin (a pipe from the arming process) closes
 * because the arming process died (even by SIGKILL), it keeps reading the ring a moment for
 * stops still in flight, resumes every process it knows of and every one left in
 * fl_delay_stopped (ahead of their time), and exits. At disarm the arming process kills it and
 * resumes what fl_delay_stopped holds itself, synchronously (delay-family.ts).
 *
 * Started as `node delay-resumer.js <spec json>` with fd 3 = fl_delay_events (ring buffer), fd 4 =
 * fl_delay_stopped (tgid -> event), fd 5 = fl_delay_cfg; it writes its pid into fl_delay_cfg
 * when it is ready, which is what the BPF side and the arming process wait for.
 */
import { RingBuffer, FdMap, fdHungUp } from '../../libbpf/ringbuf.js'
import { decodeDelayEvent, drawPauseNs, encodeDelayCfg, SIZEOF_DELAY_CFG, SIZEOF_DELAY_EVENT, type DelaySpec } from './delay-layout.js'

const RING_FD = 3
const STOPPED_FD = 4
const CFG_FD = 5
/** How long stops still in flight are awaited once the arming process is gone. */
const DRAIN_MS = 100
/** The longest wait between checks of stdin. */
const TICK_MS = 50

const spec = JSON.parse(process.argv[2] ?? '[]') as DelaySpec
const stopped = new FdMap(STOPPED_FD, 4, SIZEOF_DELAY_EVENT)
const cfg = new FdMap(CFG_FD, 4, SIZEOF_DELAY_CFG)
const key = (tgid: number) => {
  const k = Buffer.alloc(4)
  k.writeUInt32LE(tgid)
  return k
}

/** vpid -> when to resume it (the latest deadline of its outstanding stops), its global tgid and that stop's time. */
const due = new Map<number, { at: bigint; tgid: number; stopNs: bigint }>()

const ring = new RingBuffer(RING_FD, (data) => {
  const e = decodeDelayEvent(data)
  const s = spec[e.rule]
  const at = e.stopNs + (s ? drawPauseNs(s) : 0n)
  const prev = due.get(e.vpid)
  if (!prev || at > prev.at) due.set(e.vpid, { at, tgid: e.tgid, stopNs: e.stopNs })
})

/** SIGCONT first, then forget the stop unless it stopped again meanwhile: an entry in
 * fl_delay_stopped is never dropped before its process runs (disarm resumes what is left). */
function resume(vpid: number, tgid: number, stopNs: bigint | undefined): void {
  try {
    process.kill(vpid, 'SIGCONT')
  } catch {
    /* it exited meanwhile */
  }
  const v = stopped.lookup(key(tgid))
  if (v && (stopNs === undefined || decodeDelayEvent(v).stopNs <= stopNs)) stopped.delete(key(tgid))
}

/** Resumes what is due at `now` (undefined: everything, ahead of time). */
function resumeDue(now: bigint | undefined): void {
  for (const [vpid, d] of due) {
    if (now !== undefined && d.at > now) continue
    due.delete(vpid)
    resume(vpid, d.tgid, d.stopNs)
  }
}

function nextTimeoutMs(now: bigint): number {
  let ms = TICK_MS
  for (const d of due.values()) ms = Math.min(ms, Number((d.at - now + 999_999n) / 1_000_000n))
  return Math.max(ms, 0)
}

cfg.update(key(0), encodeDelayCfg(process.pid))

while (!fdHungUp(0)) {
  resumeDue(process.hrtime.bigint())
  ring.poll(nextTimeoutMs(process.hrtime.bigint()))
}

// The arming process died: no new stop can come once the kernel has closed its links.
const end = process.hrtime.bigint() + BigInt(DRAIN_MS) * 1_000_000n
while (process.hrtime.bigint() < end) ring.poll(10)
resumeDue(undefined)
for (const k of stopped.keys()) {
  const v = stopped.lookup(k)
  if (v) resume(decodeDelayEvent(v).vpid, k.readUInt32LE(0), undefined)
}
ring.free()
process.exit(0)
