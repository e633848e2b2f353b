/**
 * `delay` / `jitter` on a syscall rule (syscall latency): the call returns after the delay,
 * because the whole process is stopped (SIGSTOP) when it leaves the call and resumed (SIGCONT)
 * after it. What such a rule may say, checked here with the field named:
 * - delay 1 ms .. 60 s; jitter 0 .. delay (the pause is drawn uniformly in delay +- jitter);
 * - delay replaces errno / ret (a delayed call succeeds as it would have);
 * - filters: `path` (the path argument as passed) and `flags`; not `port`, `address`, `family`
 *   (no socket address at the syscall tracepoint) nor `fd` (no resolved file there);
 * - not on calls that never return (exit, exit_group) nor a path filter on execve/execveat
 *   (their path is gone when the call returns);
 * - not on the calling process itself: stopping it would freeze the test runner, so the target
 *   must be scope 'children' (or 'system', which never stops faultline's own process).
 */
import { parseDuration } from './duration.js'
import type { NormalizedDelay, NormalizedTarget } from './types.js'

export const DELAY_MIN_MS = 1
export const DELAY_MAX_MS = 60_000
/** Match keys a delay rule can use, the others refused with the reason. */
export const DELAY_MATCH_KEYS = ['path', 'flags']
export const DELAY_UNSUPPORTED_MATCH: Record<string, string> = {
  port: 'a delay rule sees the call at the syscall tracepoint, which has no socket address',
  address: 'a delay rule sees the call at the syscall tracepoint, which has no socket address',
  family: 'a delay rule sees the call at the syscall tracepoint, which has no socket address',
  fd: 'a delay rule sees the call at the syscall tracepoint, where the file behind an fd cannot be resolved to a path',
}
export const NO_RETURN_SYSCALLS = ['exit', 'exit_group']
const PATH_GONE = ['execve', 'execveat']

type Add = (path: string, message: string) => void
type Obj = Record<string, unknown>

/** The normalized delay of `raw` (a rule object), or undefined when it has none or it is invalid (issues added). */
export function validateDelay(raw: Obj, path: string, add: Add): NormalizedDelay | undefined {
  if (raw.delay === undefined) {
    if (raw.jitter !== undefined) add(`${path}.jitter`, 'needs delay (jitter varies a delay)')
    return undefined
  }
  const before = { n: 0 }
  const addCounted: Add = (p, m) => {
    before.n++
    add(p, m)
  }
  if (raw.errno !== undefined || raw.ret !== undefined) addCounted(path, `give delay or ${raw.errno !== undefined ? 'errno' : 'ret'}, not both: a delayed call succeeds (or fails) as it would have, only later`)
  if (raw.mechanism !== undefined) addCounted(`${path}.mechanism`, 'a delay rule is served by send-signal only; leave mechanism out')
  const ms = parseDuration(raw.delay)
  let delayMs = 0
  if (typeof ms === 'string') addCounted(`${path}.delay`, ms)
  else if (ms < DELAY_MIN_MS || ms > DELAY_MAX_MS) addCounted(`${path}.delay`, `must be ${DELAY_MIN_MS}ms..${DELAY_MAX_MS / 1000}s, got ${ms}ms`)
  else delayMs = ms
  let jitterMs = 0
  if (raw.jitter !== undefined) {
    const j = parseDuration(raw.jitter)
    if (typeof j === 'string') addCounted(`${path}.jitter`, j)
    else if (delayMs && j > delayMs) addCounted(`${path}.jitter`, `${j}ms is more than the delay (${delayMs}ms): the pause is drawn in delay +- jitter and cannot be negative`)
    else jitterMs = j
  }
  const syscall = typeof raw.syscall === 'string' ? raw.syscall : ''
  if (NO_RETURN_SYSCALLS.includes(syscall)) addCounted(`${path}.syscall`, `${syscall} never returns: there is no call to delay`)
  const match = raw.match
  if (typeof match === 'object' && match !== null && !Array.isArray(match)) {
    for (const key of Object.keys(match)) {
      const why = DELAY_UNSUPPORTED_MATCH[key]
      if (why) addCounted(`${path}.match.${key}`, `not with delay: ${why} (delay rules filter by ${DELAY_MATCH_KEYS.join(', ')})`)
    }
    if ((match as Obj).path !== undefined && PATH_GONE.includes(syscall)) {
      addCounted(`${path}.match.path`, `not with delay on ${syscall}: the path argument is gone once the new program runs, when the call returns`)
    }
  }
  return before.n ? undefined : { ms: delayMs, jitterMs }
}

/** Refuses delay rules that could stop the calling process (issues added at each rule's delay). */
export function checkDelayTarget(target: NormalizedTarget, rules: { path: string; delay?: NormalizedDelay }[], add: Add): void {
  if (target.scope !== 'tree') return
  for (const r of rules) {
    if (!r.delay) continue
    add(
      `${r.path}.delay`,
      "would stop the calling process itself (SIGSTOP pauses every thread of it, the test runner's included, so the test would freeze): " +
        "use target: { scope: 'children' } to delay the processes it spawns",
    )
  }
}
