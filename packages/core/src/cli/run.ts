/**
 * `faultline run -c faults.yaml -- cmd args...`: runs a command (and everything it spawns) under
 * a config and exits with the command's status (128+N when a signal N ended it). On a terminal
 * it shows the live view (cli/tui.ts): q or Ctrl-C stops the command, space pauses (disarms) and
 * resumes (re-arms), the arrow keys select a rule. Without one, it prints plain lines on stderr.
 * The CLI itself is never a target: scope 'tree' becomes 'children'.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfigSync, retargetConfig, validateConfig } from '../config/index.js'
import type { FailureConfig, NormalizedDnsRule, NormalizedNetworkRule, NormalizedSyscallRule } from '../config/types.js'
import { arm, type Session } from '../engine/session.js'
import { underTcLock } from '../engine/state/lock.js'
import type { RuleStats } from '../engine/handle.js'
import type { RuleCounters } from '../engine/shared-layout.js'
import { parseFlags, UsageError } from './args.js'
import { Screen, type RuleRow } from './tui.js'

export const RUN_USAGE =
  'run -c <config.yaml> [--quiet] [--json] [--scope system --comm NAME...] -- <command> [args...]\n' +
  '                                          run a command under a config, with live counters'

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
  scope: { type: 'string' },
  comm: { type: 'string', multiple: true },
} as const

export function formatStats(stats: Record<string, RuleStats>): string {
  const rows = Object.entries(stats).map(([name, s]) => [name, s.syscall, s.mechanism, String(s.seen), String(s.matched), String(s.fired)])
  const head = ['rule', 'syscall', 'mechanism', 'seen', 'matched', 'fired']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const fmt = (r: string[]) => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  return [fmt(head), ...rows.map(fmt)].join('\n')
}

/** The exit status a shell would report: the code, or 128 + the signal's number. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code
  return 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)
}

/** Before validation: a config's 'tree' (or no target) means the command's tree, never the CLI. */
export function cliTarget(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const target = (value as { target?: unknown }).target
  if (target !== undefined && (typeof target !== 'object' || target === null || Array.isArray(target))) return value
  const t = (target ?? {}) as { scope?: unknown }
  return t.scope === undefined || t.scope === 'tree' ? { ...value, target: { ...t, scope: 'children' } } : value
}

/** The config with the command-line target applied: 'tree' becomes 'children' (never the CLI). */
function withTarget(loaded: FailureConfig, scope: string | undefined, comm: string[] | undefined): FailureConfig {
  if (scope === undefined && comm === undefined) {
    return loaded.target.scope === 'tree' ? retargetConfig(loaded, { ...loaded.target, scope: 'children' }) : loaded
  }
  if (scope !== undefined && scope !== 'system' && scope !== 'children') throw new UsageError(`--scope ${scope}: allowed: children, system`, RUN_USAGE)
  // The same checks as a config's target (comm length, how many names, 'system' needs a comm).
  const target = validateConfig({ target: { scope: scope ?? 'children', comm: comm ?? loaded.target.comm } }, '--scope/--comm').target
  const warnings = target.scope === 'system'
    ? [...loaded.warnings, `--scope system: every process named ${target.comm.join(', ')} on this machine is a target while this runs, not only the command's own processes`]
    : loaded.warnings
  return retargetConfig(loaded, target, warnings)
}

const describeWhen = (w: NormalizedSyscallRule['when']) =>
  [w.afterMs && `after ${w.afterMs} ms`, w.nth && `only call #${w.nth}`, w.times && `at most ${w.times}x`, w.probability < 1 && `p=${w.probability}${w.seed !== undefined ? ` seed ${w.seed}` : ''}`]
    .filter(Boolean)
    .join(', ') || 'every matching call'

type AnyRule = NormalizedSyscallRule | NormalizedNetworkRule | NormalizedDnsRule

function ruleDetail(rule: AnyRule): string {
  if ('answer' in rule) return `DNS queries for ${rule.name} get ${rule.answer}; when: ${describeWhen(rule.when)}`
  if ('syscall' in rule) {
    const m = rule.match
    const match = [m.port && `port ${m.port}`, m.address && `address ${m.address.text}`, m.family, m.path && `path ${m.path}`, m.fd && `fd ${m.fd}`, m.flags && `flags ${m.flags.join('|')}`]
      .filter(Boolean)
      .join(', ')
    const effect = rule.delay
      ? `returns ${rule.delay.ms}ms late${rule.delay.jitterMs ? ` (+- ${rule.delay.jitterMs}ms)` : ''}`
      : rule.corrupt
        ? `reads ${rule.corrupt.bytes} flipped byte(s) (seed ${rule.corrupt.seed})`
        : `fails with ${rule.errnoName ?? rule.ret}`
    return `${rule.syscall} ${effect}; match: ${match || 'any call'}; when: ${describeWhen(rule.when)}`
  }
  const where = [rule.ports.length && `ports ${rule.ports.join(',')}`, (rule.hosts.length || rule.hostnames.length) && `hosts ${[...rule.hosts.map((h) => h.text), ...rule.hostnames].join(',')}`, rule.interface && `on ${rule.interface}`]
    .filter(Boolean)
    .join(', ')
  return `${rule.action} ${rule.direction}${rule.protocol ? ` ${rule.protocol}` : ''}; match: ${where || 'all traffic'}; when: ${describeWhen(rule.when)}`
}

const COUNTERS: (keyof RuleCounters)[] = ['seen', 'matched', 'eligible', 'fired']

/** Counters over arm / pause / re-arm: what earlier armings counted plus the live session's. */
class Tally {
  private base: Record<string, RuleStats> = {}
  readonly perSecond = new Map<string, number[]>()
  private lastFired = new Map<string, number>()

  constructor(private session: Session | undefined) {}

  get armed(): Session | undefined {
    return this.session
  }

  stats(): Record<string, RuleStats> {
    const live = this.session?.handle.stats() ?? {}
    const names = new Set([...Object.keys(this.base), ...Object.keys(live)])
    const out: Record<string, RuleStats> = {}
    for (const n of names) {
      const a = this.base[n]
      const b = live[n]
      const sum: RuleStats = { ...(a ?? b)! }
      for (const k of COUNTERS) sum[k] = (a?.[k] ?? 0) + (b?.[k] ?? 0)
      out[n] = sum
    }
    return out
  }

  pause(): void {
    if (!this.session) return
    this.session.disarm()
    this.base = this.stats() // the live part is frozen now: fold it into the base
    this.session = undefined
  }

  resume(config: FailureConfig): void {
    if (!this.session) this.session = arm(config)
  }

  /** Once a second: how many fired in the last second, per rule. */
  sample(): void {
    for (const [n, s] of Object.entries(this.stats())) {
      const list = this.perSecond.get(n) ?? []
      list.push(s.fired - (this.lastFired.get(n) ?? 0))
      if (list.length > 600) list.shift()
      this.perSecond.set(n, list)
      this.lastFired.set(n, s.fired)
    }
  }
}

function readComm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return '?'
  }
}

export async function runCommand(args: string[]): Promise<number> {
  const sep = args.indexOf('--')
  const { values, positionals } = parseFlags(sep >= 0 ? args.slice(0, sep) : args, OPTIONS, RUN_USAGE)
  if (values.help) return console.log(`usage: faultline ${RUN_USAGE}`), 0
  const cmd = sep >= 0 ? [...positionals, ...args.slice(sep + 1)] : positionals
  const configPath = values.config as string | undefined
  if (!configPath) throw new UsageError('-c <config.yaml> is required', RUN_USAGE)
  if (cmd.length === 0) throw new UsageError('no command given (put it after --)', RUN_USAGE)
  const config = withTarget(loadConfigSync(configPath, cliTarget), values.scope as string | undefined, values.comm as string[] | undefined)
  for (const w of config.warnings) console.error(`faultline: warning: ${w}`)

  const tty = !values.quiet && !values.json && process.stdout.isTTY && process.stdin.isTTY
  const tally = new Tally(await underTcLock(() => arm(config))) // waits for the tc lock without blocking
  const t0 = performance.now()
  // On a terminal the output goes through us (into the scroll region) and the keys are ours.
  // There it also gets its own process group, so q stops the whole command, not only its first process.
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: tty ? ['ignore', 'pipe', 'pipe'] : 'inherit', detached: tty })
  const rules: AnyRule[] = [...config.syscalls, ...config.network, ...config.dns]
  const ui = tty ? liveView(child, tally, config, path.basename(configPath), rules, t0) : plainView(tally, !!values.quiet || !!values.json, t0)
  // On a terminal the command has its own process group: a signal to faultline goes to all of it.
  const forward = (sig: NodeJS.Signals) => signalCommand(child, sig, !!tty)
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const s of signals) process.on(s, forward)
  const status = await new Promise<number>((resolve) => {
    child.on('error', (err) => {
      console.error(`faultline run: cannot start ${cmd[0]}: ${err.message}`)
      resolve(127)
    })
    child.on('exit', (code, signal) => resolve(exitStatus(code, signal)))
  })
  // The command's last output may still be in the pipes (which a leftover grandchild may hold open).
  const drained = Promise.all([child.stdout, child.stderr].map((s) => (s && !s.readableEnded ? new Promise((r) => s.once('close', r)) : undefined)))
  await Promise.race([drained, new Promise((r) => setTimeout(r, 500))])
  ui.stop()
  for (const s of signals) process.off(s, forward)
  tally.pause()
  const stats = tally.stats()
  if (values.json) process.stderr.write(`${JSON.stringify({ command: cmd, status, rules: stats })}\n`)
  else process.stderr.write(`faultline: ${cmd.join(' ')} exited with ${status}\n${formatStats(stats)}\n`)
  return status
}

/** Sends `sig` to the command, or to its whole process group (`group`: it has its own). */
function signalCommand(child: ChildProcess, sig: NodeJS.Signals, group: boolean): void {
  try {
    if (group && child.pid) process.kill(-child.pid, sig)
    else child.kill(sig)
  } catch {
    /* already gone */
  }
}

interface Ui {
  stop(): void
}

/** Without a terminal: a line on stderr each second in which a rule fired (none with --quiet). */
function plainView(tally: Tally, quiet: boolean, t0: number): Ui {
  if (quiet) return { stop() {} }
  const last = new Map<string, number>()
  const timer = setInterval(() => {
    for (const [n, s] of Object.entries(tally.stats())) {
      if (s.fired === (last.get(n) ?? 0)) continue
      process.stderr.write(`faultline: ${((performance.now() - t0) / 1000).toFixed(1)}s ${n} fired ${s.fired} (+${s.fired - (last.get(n) ?? 0)})\n`)
      last.set(n, s.fired)
    }
  }, 1000)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}

function liveView(child: ChildProcess, tally: Tally, config: FailureConfig, title: string, rules: AnyRule[], t0: number): Ui {
  const out = process.stdout
  const screen = new Screen(out, rules.length)
  let selected = 0
  const targets = new Map<number, string>()
  const events: string[] = []
  const refreshTargets = () => {
    // The CLI is tracked (to follow its children) but never failed: not a target to show.
    const now = new Set((tally.armed?.handle.targets() ?? []).filter((pid) => pid !== process.pid))
    for (const pid of now) {
      if (targets.has(pid)) continue
      targets.set(pid, readComm(pid))
      events.push(`+${pid} ${targets.get(pid)}`)
    }
    for (const [pid, comm] of targets) {
      if (now.has(pid) || !tally.armed) continue
      targets.delete(pid)
      events.push(`-${pid} ${comm}`)
    }
    events.splice(0, Math.max(0, events.length - 8))
  }
  const draw = () => {
    refreshTargets()
    const stats = tally.stats()
    const rows: RuleRow[] = rules.map((r) => {
      const s = stats[r.name]
      return { name: r.name, mechanism: s?.mechanism ?? '-', seen: s?.seen ?? 0, matched: s?.matched ?? 0, fired: s?.fired ?? 0, perSecond: tally.perSecond.get(r.name) ?? [], detail: ruleDetail(r) }
    })
    screen.draw({ title, elapsedMs: performance.now() - t0, paused: !tally.armed, rules: rows, selected, targets: [...targets].map(([pid, comm]) => ({ pid, comm })), events })
  }
  let stopping = false
  const stopCommand = () => {
    if (stopping) return
    stopping = true
    signalCommand(child, 'SIGTERM', true)
    setTimeout(() => signalCommand(child, 'SIGKILL', true), 3000).unref()
  }
  const onKey = (key: Buffer) => {
    const k = key.toString()
    if (k === 'q' || k === '\x03') stopCommand()
    else if (k === ' ') {
      try {
        if (tally.armed) tally.pause()
        else tally.resume(config)
      } catch (err) {
        events.push(`re-arming failed: ${(err as Error).message.split('\n')[0]}`)
      }
    } else if (k === '\x1b[A' || k === '\x1bOA') selected = Math.max(0, selected - 1)
    else if (k === '\x1b[B' || k === '\x1bOB') selected = Math.min(rules.length - 1, selected + 1)
    draw()
  }
  const onResize = () => {
    screen.resize()
    draw()
  }
  const restore = () => {
    if (process.stdin.isTTY) process.stdin.setRawMode(false)
    screen.stop()
  }
  screen.start()
  child.stdout?.on('data', (d: Buffer) => screen.output(d))
  child.stderr?.on('data', (d: Buffer) => screen.output(d))
  process.stdin.setRawMode(true)
  process.stdin.on('data', onKey)
  out.on('resize', onResize)
  process.once('exit', restore)
  const redraw = setInterval(draw, 250)
  const sampler = setInterval(() => tally.sample(), 1000)
  draw()
  return {
    stop() {
      clearInterval(redraw)
      clearInterval(sampler)
      draw()
      process.stdin.off('data', onKey)
      process.stdin.pause()
      out.off('resize', onResize)
      process.off('exit', restore)
      restore()
    },
  }
}
