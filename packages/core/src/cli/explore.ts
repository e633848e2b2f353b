/**
 * `faultline explore -c faults.yaml -- cmd args...`: runs the command once with every syscall and network rule
 * counting only (the census), then once per (rule, k) with only the k-th matching call failed, and
 * reports how each run ended (explore/). Rows go to stdout as they come (to stderr with --json,
 * whose object is the only thing on stdout). Exit: 0 no run crashed or hung, 1 some did, 3 the
 * census run did not exit 0. The CLI itself is never a target: scope 'tree' becomes 'children'.
 */
import { spawn } from 'node:child_process'
import createDebug from 'debug'
import { loadConfigSync, parseDuration, validateConfig } from '../config/index.js'
import type { FailureConfig, FailureConfigInput } from '../config/types.js'
import { arm } from '../engine/session.js'
import type { SiteLog } from '../engine/call-sites/call-site-recorder.js'
import { planExploreRuns } from '../explore/sites.js'
import type { RuleStats } from '../engine/handle.js'
import { censusConfig, classify, runConfig, type ExplorableRule } from '../explore/plan.js'
import { exploreJson, formatFindings, tableHeader } from '../explore/format.js'
import type { ExploreRun } from '../explore/types.js'
import { parseFlags, UsageError } from './args.js'
import { cliTarget, exitStatus } from './run.js'

const debug = createDebug('faultline:explore')

export const EXPLORE_USAGE =
  'explore -c <config.yaml> [--json] [--max-runs N] [--timeout D] [--by call|site] -- <command> [args...]\n' +
  '                                          fail each matching call in turn (--by site: the first call of each\n' +
  '                                          distinct user call stack); list the runs that did not exit 0'

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  'max-runs': { type: 'string' },
  timeout: { type: 'string' },
  by: { type: 'string' },
} as const

interface End {
  code: number | null
  signal: string | null
  timedOut: boolean
  stats: Record<string, RuleStats>
  ms: number
  /** The last lines the command wrote to stderr. */
  stderr: string
  /** With callSites: per rule index, the stack of each eligible call. */
  sites?: SiteLog
}

/** The running command's process group, for a signal to faultline to end it. */
let current: number | undefined

function stopOnSignal(sig: NodeJS.Signals): void {
  try {
    if (current) process.kill(-current, 'SIGKILL')
  } catch {
    /* gone */
  }
  process.stderr.write(`faultline explore: stopped by ${sig}\n`)
  process.exit(exitStatus(null, sig))
}

/** Arms `input`, runs the command in its own process group, kills the group past `timeoutMs` and after exit. */
async function runArmed(input: FailureConfigInput, cmd: string[], timeoutMs: number, callSites = false): Promise<End> {
  const session = arm(validateConfig(input), { callSites })
  const t0 = performance.now()
  try {
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let stderr = ''
    child.stdout.resume()
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)))
    current = child.pid
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* the group is gone */
      }
    }
    let timedOut = false
    const timer = setTimeout(() => ((timedOut = true), killGroup()), timeoutMs)
    const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.on('error', (err) => {
        stderr += `cannot start ${cmd[0]}: ${err.message}`
        resolve({ code: 127, signal: null })
      })
      child.on('exit', (c, s) => resolve({ code: c, signal: s }))
    })
    clearTimeout(timer)
    killGroup() // what the command left behind would run into the next run
    current = undefined
    session.disarm() // the call sites are read at disarm
    return { code, signal: timedOut ? null : signal, timedOut, stats: session.handle.stats(), ms: performance.now() - t0, stderr, sites: session.callSites() }
  } finally {
    session.disarm()
  }
}

/** On a terminal, the run in progress on one line of stderr, replaced by the next output. */
let progressShown = false
function progress(text: string): void {
  if (!process.stderr.isTTY || (!text && !progressShown)) return
  process.stderr.write(`\r\x1b[K${text}`)
  progressShown = !!text
}

function positiveInt(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} ${v}: must be a positive integer`, EXPLORE_USAGE)
  return n
}

/** The syscall and network rules (a network rule's k is its k-th connection); DNS rules stay out. */
function explorable(config: FailureConfig, json: boolean): ExplorableRule[] {
  const others = config.dns.map((r) => r.name)
  if (others.length) process.stderr.write(`faultline explore: not explored: ${others.join(', ')} (DNS rules have no per-query nth)\n`)
  const rules = [...config.syscalls, ...config.network]
  if (!rules.length) throw new UsageError('the config has no syscall or network rule to explore', EXPLORE_USAGE)
  debug('exploring %d rule(s), json %s', rules.length, json)
  return rules
}

export async function exploreCommand(args: string[]): Promise<number> {
  const sep = args.indexOf('--')
  const { values, positionals } = parseFlags(sep >= 0 ? args.slice(0, sep) : args, OPTIONS, EXPLORE_USAGE)
  if (values.help) return console.log(`usage: faultline ${EXPLORE_USAGE}`), 0
  const cmd = sep >= 0 ? [...positionals, ...args.slice(sep + 1)] : positionals
  const configPath = values.config as string | undefined
  if (!configPath) throw new UsageError('-c <config.yaml> is required', EXPLORE_USAGE)
  if (cmd.length === 0) throw new UsageError('no command given (put it after --)', EXPLORE_USAGE)
  const maxRuns = positiveInt(values['max-runs'] as string | undefined, '--max-runs', 100)
  const timeoutMs = values.timeout === undefined ? 60_000 : parseDuration(values.timeout)
  if (typeof timeoutMs === 'string' || timeoutMs <= 0) throw new UsageError(`--timeout: ${typeof timeoutMs === 'string' ? timeoutMs : 'must be above 0'}`, EXPLORE_USAGE)
  const json = !!values.json
  const by = (values.by as string | undefined) ?? 'call'
  if (by !== 'call' && by !== 'site') throw new UsageError(`--by ${by}: must be call (every matching call) or site (the first call of each distinct call stack)`, EXPLORE_USAGE)
  const config = loadConfigSync(configPath, cliTarget)
  for (const w of config.warnings) process.stderr.write(`faultline: warning: ${w}\n`)
  const rules = explorable(config, json)
  const out = (s: string) => (progress(''), (json ? process.stderr : process.stdout).write(`${s}\n`))

  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, stopOnSignal)
  progress('census: running the command with every rule counting only')
  const census = await runArmed(censusConfig(config, rules), cmd, timeoutMs, by === 'site')
  if (census.timedOut || census.code !== 0) {
    const how = census.timedOut ? `did not finish within ${timeoutMs} ms` : census.signal ? `was killed by ${census.signal}` : `exited with ${census.code}`
    process.stderr.write(`faultline explore: the census run (no call failed) ${how}; explore needs a command that passes when nothing fails\n${census.stderr}`)
    return 3
  }
  const counts = Object.fromEntries(rules.map((r) => [r.name, census.stats[r.name]?.eligible ?? 0]))
  out(`census: ${rules.map((r) => `${r.name} matched ${counts[r.name]}x`).join(', ')} (${Math.round(census.ms)} ms)`)
  const names = rules.map((r) => r.name)
  const plan = planExploreRuns(rules, counts, by, census.sites, maxRuns)
  for (const [rule, why] of Object.entries(plan.byCall)) process.stderr.write(`faultline explore: ${rule} is explored call by call: ${why}\n`)
  if (by === 'site') out(`sites: ${names.map((n) => `${n} ${new Set(plan.runs.filter((r) => r.rule === n).map((r) => r.site?.index)).size} site(s)`).join(', ')}`)
  const table = tableHeader(names, by === 'site')
  if (plan.runs.length) out(table.header)
  const runs: ExploreRun[] = []
  const stderrOf = new Map<ExploreRun, string>()
  for (const [i, p] of plan.runs.entries()) {
    const input = runConfig(config, rules.find((r) => r.name === p.rule)!, p.nth)
    progress(`running ${i + 1}/${plan.runs.length}: ${p.rule} nth ${p.nth}`)
    const end = await runArmed(input, cmd, timeoutMs)
    const fired = end.stats[p.rule]?.fired ?? 0
    const run: ExploreRun = { rule: p.rule, nth: p.nth, fired, outcome: classify({ ...end, fired }), exitCode: end.code, signal: end.signal, ms: end.ms, config: input, ...(p.site ? { site: p.site } : {}) }
    runs.push(run)
    stderrOf.set(run, end.stderr)
    out(table.row(i + 1, plan.runs.length, run))
  }
  const report = { census: counts, runs, skipped: plan.skipped, by: by as 'call' | 'site', ...(by === 'site' ? { byCall: plan.byCall } : {}) }
  if (json) process.stdout.write(`${JSON.stringify(exploreJson(report))}\n`)
  else out(`\n${formatFindings(report, (r) => stderrOf.get(r) ?? '')}`)
  return runs.some((r) => r.outcome === 'crashed' || r.outcome === 'hung') ? 1 : 0
}
