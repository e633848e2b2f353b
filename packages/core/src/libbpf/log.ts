/**
 * Routes libbpf's log into `debug` (DEBUG=faultline:libbpf) and keeps the lines of the call in
 * progress, so an error can carry the verifier's explanation instead of a bare errno.
 */
import createDebug from 'debug'
import { getNative } from './native.js'

const debugLibbpf = createDebug('faultline:libbpf')
const LEVELS = ['warn', 'info', 'debug'] as const

let installed = false
let capture: string[] | undefined

function install(): void {
  if (installed) return
  const { lib, libc, koffi, printProto } = getNative()
  const callback = koffi.register((level: number, fmt: bigint, ap: bigint): number => {
    // Never throw from here: an exception inside a callback skips libbpf's remaining work.
    try {
      const out: bigint[] = [0n]
      const n = libc.vasprintf(out, fmt, ap)
      const ptr = out[0]
      if (n < 0 || !ptr) return 0
      const text = koffi.decode(ptr, 'char', n) as string
      libc.free(ptr)
      for (const line of text.replace(/\n$/, '').split('\n')) {
        if (level <= 1 && capture) capture.push(line)
        debugLibbpf('%s: %s', LEVELS[level] ?? level, line)
      }
    } catch {
      /* logging must not break loading */
    }
    return 0
  }, koffi.pointer(printProto))
  lib.libbpf_set_print(callback)
  installed = true
}

/**
 * Runs one libbpf call and returns its result together with what libbpf logged at warn/info
 * level during it (the verifier log of a failed load lands here).
 */
export function withLog<T>(fn: () => T): { result: T; log: string[] } {
  install()
  const outer = capture
  const lines: string[] = []
  capture = lines
  try {
    return { result: fn(), log: lines }
  } finally {
    capture = outer
    if (outer) outer.push(...lines)
  }
}
