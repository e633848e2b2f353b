/**
 * The tc lock: every change to tc state (qdiscs, filters, IFB devices) and every sweep holds it,
 * so two processes arming at once never delete what the other is setting up. It is the abstract
 * socket "faultline-tc-lock": like tc state it belongs to the network namespace (processes in
 * other pid or mount namespaces sharing it take the same lock), needs no writable directory,
 * and is released by the kernel when its holder dies.
 */
import createDebug from 'debug'
import { FaultlineBusyError } from '../errors.js'
import { bindAbstract, closeAbstract } from './abstract-socket.js'

const debug = createDebug('faultline:state')
const NAME = 'faultline-tc-lock'
/** Longer than any set-up under the lock (a few tc/ip commands) takes on a loaded machine. */
const TIMEOUT_MS = 60_000

let depth = 0
let fd = -1
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Runs fn holding the network namespace's tc lock (reentrant within this process). */
export function withTcLock<T>(fn: () => T): T {
  if (depth === 0) {
    const t0 = Date.now()
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      const got = bindAbstract(NAME)
      if (got !== undefined) {
        fd = got
        break
      }
      if (Date.now() - t0 > TIMEOUT_MS) {
        throw new FaultlineBusyError(`faultline: the tc lock (abstract socket @${NAME}) is held by another process for over ${TIMEOUT_MS / 1000} s`)
      }
      Atomics.wait(sleeper, 0, 0, wait)
    }
    if (Date.now() - t0 > 5) debug('waited %d ms for the tc lock', Date.now() - t0)
  }
  depth++
  try {
    return fn()
  } finally {
    if (--depth === 0) {
      closeAbstract(fd)
      fd = -1
    }
  }
}
