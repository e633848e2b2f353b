/**
 * The tc lock: every change to tc state (qdiscs, filters, IFB devices) and every sweep holds it,
 * so two processes arming at once never delete what the other is setting up. It is the abstract
 * socket "faultline-tc-lock": like tc state it belongs to the network namespace (processes in
 * other pid or mount namespaces sharing it take the same lock), needs no writable directory,
 * and is released by the kernel when its holder dies.
 *
 * Any user can bind the name, so a holder counts only when it is a privileged process
 * (holder.ts); anyone else is refused at once, named. Arming never blocks the event loop to wait:
 * acquireTcLock() waits asynchronously, with a bound; withTcLock() is synchronous and does not
 * wait (async callers take the lock first, so withTcLock finds it held by this process), except
 * to undo what this process made, where it waits briefly for another faultline's change.
 */
import createDebug from 'debug'
import { sleepSync } from '../../sleep-sync.js'
import { FaultlineBusyError } from '../errors.js'
import { bindLegacy, closeAbstract, listenAbstract } from './abstract-socket.js'
import { describeHolder, judgeHolder, judgeLegacy, type Verdict } from './holder.js'

const debug = createDebug('faultline:state')
const NAME = 'faultline-tc-lock'
/** Longer than any set-up under the lock (a few tc/ip commands) takes on a loaded machine. */
const TIMEOUT_MS = 60_000

let depth = 0
let fd = -1
/** The datagram lock of older faultline versions, taken too where free. */
let legacyFd: number | undefined

type Busy = Exclude<Verdict, { held: false }>

function squatted(v: Busy): FaultlineBusyError {
  return new FaultlineBusyError(`faultline: the tc lock (abstract socket @${NAME}) is held by ${describeHolder(v)}, which is not faultline of a privileged user (${v.trusted ? '' : v.why}): refused at once`)
}

/** Takes the lock (true), or says who holds it. A holder that let go between bind and connect is retried. */
function tryTake(): true | Busy {
  for (let i = 0; i < 3; i++) {
    const got = listenAbstract(NAME)
    if (got !== undefined) {
      // an older version beside this one takes only the datagram lock: hold it too, or wait for
      // its holder when that is root (anyone else's is ignored)
      legacyFd = bindLegacy(NAME)
      const v = legacyFd === undefined ? judgeLegacy(NAME) : undefined
      if (v?.held && v.trusted) {
        closeAbstract(got)
        return v
      }
      fd = got
      return true
    }
    const v = judgeHolder(NAME)
    if (v.held) return v
  }
  return { held: true, trusted: false, why: 'taken and released over and over while we tried' }
}

function release(): void {
  if (--depth === 0) {
    closeAbstract(fd)
    if (legacyFd !== undefined) closeAbstract(legacyFd)
    fd = -1
    legacyFd = undefined
  }
}

/**
 * How long a synchronous removal (a disarm's clsact and shaping undo) waits for another faultline
 * process's tc change: failing there would leave this process's qdiscs and filters behind until a
 * sweep, and a privileged holder's changes take milliseconds. Never waited for a squatter.
 */
const REMOVAL_WAIT_MS = 5_000

/**
 * Runs fn holding the network namespace's tc lock (reentrant within this process). Throws at once
 * when another process holds it; `removal` (the undo of what this process made) first waits up to
 * REMOVAL_WAIT_MS, synchronously, for a privileged faultline holder to finish.
 */
export function withTcLock<T>(fn: () => T, { removal = false } = {}): T {
  if (depth === 0) {
    let got = tryTake()
    const deadline = Date.now() + REMOVAL_WAIT_MS
    for (let wait = 1; removal && got !== true && got.trusted && Date.now() < deadline; wait = Math.min(wait * 2, 50)) {
      sleepSync(wait)
      got = tryTake()
    }
    if (got !== true) {
      if (!got.trusted) throw squatted(got)
      throw new FaultlineBusyError(
        `faultline: the tc lock (abstract socket @${NAME}) is held by faultline process ${describeHolder(got)}; this synchronous call does not wait ` +
          '(it would freeze the event loop): withFailureConfig waits for it',
      )
    }
  }
  depth++
  try {
    return fn()
  } finally {
    release()
  }
}

/**
 * Takes the tc lock, waiting without blocking the event loop while another faultline process holds
 * it (at most timeoutMs); refused at once when the holder is not a privileged process. Returns the release.
 */
export async function acquireTcLock(timeoutMs = TIMEOUT_MS): Promise<() => void> {
  const t0 = Date.now()
  for (let wait = 1; depth === 0; wait = Math.min(wait * 2, 100)) {
    const got = tryTake()
    if (got === true) break
    if (!got.trusted) throw squatted(got)
    if (Date.now() - t0 > timeoutMs) {
      throw new FaultlineBusyError(`faultline: the tc lock (abstract socket @${NAME}) has been held by faultline process ${describeHolder(got)} for over ${timeoutMs / 1000} s`)
    }
    await new Promise((r) => setTimeout(r, wait))
  }
  if (Date.now() - t0 > 5) debug('waited %d ms for the tc lock', Date.now() - t0)
  depth++
  let released = false
  return () => {
    if (!released) release()
    released = true
  }
}

/** Runs fn (synchronous) holding the tc lock, taken asynchronously first. */
export async function underTcLock<T>(fn: () => T, timeoutMs?: number): Promise<T> {
  const done = await acquireTcLock(timeoutMs)
  try {
    return fn()
  } finally {
    done()
  }
}
