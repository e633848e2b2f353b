/**
 * Verification runs inside the bpf() syscall, and a signal arriving meanwhile aborts it with
 * EAGAIN; libbpf retries five times, then gives up. A process sampled by a profiler (`node
 * --cpu-prof` sends SIGPROF to the main thread every millisecond or less) could not load our
 * objects at all. The signals that can arrive asynchronously are held for the load and delivered
 * right after it; the synchronous ones (a fault in this thread) are never blocked, as the
 * kernel kills a thread that faults with them blocked.
 */
import { getNative } from './native.js'

const SIG_SETMASK = 2
const SIGSET_BYTES = 128 // glibc's sigset_t
const SYNCHRONOUS = [4, 5, 6, 7, 8, 11, 31] // SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGSEGV SIGSYS

let asyncSignals: Buffer | undefined

function asynchronousSet(): Buffer {
  if (asyncSignals) return asyncSignals
  const set = Buffer.alloc(SIGSET_BYTES, 0xff)
  for (const sig of SYNCHRONOUS) {
    const byte = (sig - 1) >> 3
    set.writeUInt8(set.readUInt8(byte) & ~(1 << ((sig - 1) & 7)), byte)
  }
  return (asyncSignals = set)
}

/** Runs `fn` with this thread's asynchronous signals held; they are delivered when it returns. */
export function withSignalsHeld<T>(fn: () => T): T {
  const { libc } = getNative()
  const old = Buffer.alloc(SIGSET_BYTES)
  if (libc.pthread_sigmask(SIG_SETMASK, asynchronousSet(), old) !== 0) return fn()
  try {
    return fn()
  } finally {
    libc.pthread_sigmask(SIG_SETMASK, old, null)
  }
}
