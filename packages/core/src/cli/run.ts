/**
 * `faultline run -c faults.yaml -- cmd args...`: runs a command (and everything it spawns)
 * under a config, with a live view of each rule's counters on a terminal, and exits with the
 * command's status. The CLI itself is never a target: scope 'tree' becomes 'children'.
 */
import { spawn } from 'node:child_process'
import { loadConfigSync } from '../config/index.js'
import type { FailureConfig } from '../config/types.js'
import { arm } from '../engine/session.js'
import type { RuleStats } from '../engine/handle.js'

export function formatStats(stats: Record<string, RuleStats>): string {
  const rows = Object.entries(stats).map(([name, s]) => [name, s.syscall, s.mechanism, String(s.seen), String(s.matched), String(s.fired)])
  const head = ['rule', 'syscall', 'mechanism', 'seen', 'matched', 'fired']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const fmt = (r: string[]) => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  return [fmt(head), ...rows.map(fmt)].join('\n')
}

export async function runCommand(args: string[]): Promise<number> {
  const sep = args.indexOf('--')
  const opts = sep >= 0 ? args.slice(0, sep) : args
  const cmd = sep >= 0 ? args.slice(sep + 1) : []
  const ci = opts.findIndex((a) => a === '-c' || a === '--config')
  const configPath = ci >= 0 ? opts[ci + 1] : undefined
  if (!configPath || cmd.length === 0) {
    console.error('usage: faultline run -c <config.yaml> [--quiet] -- <command> [args...]')
    return 2
  }
  const loaded = loadConfigSync(configPath)
  const config: FailureConfig = loaded.target.scope === 'tree' ? { ...loaded, target: { ...loaded.target, scope: 'children' } } : loaded
  for (const w of config.warnings) console.error(`faultline: warning: ${w}`)
  const session = arm(config)
  const live = process.stderr.isTTY && !opts.includes('--quiet')
  let drawn = 0
  const draw = () => {
    const text = formatStats(session.handle.stats())
    if (drawn) process.stderr.write(`\x1b[${drawn}A\x1b[J`)
    process.stderr.write(`${text}\n`)
    drawn = text.split('\n').length
  }
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: 'inherit' })
  const timer = live ? setInterval(draw, 250) : undefined
  const forward = (sig: NodeJS.Signals) => child.kill(sig)
  process.on('SIGINT', forward).on('SIGTERM', forward)
  const status = await new Promise<number>((resolve) => {
    child.on('error', (err) => {
      console.error(`faultline run: cannot start ${cmd[0]}: ${err.message}`)
      resolve(127)
    })
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 }) as Record<string, number>)[signal] ?? 1 : 1)))
  })
  if (timer) clearInterval(timer)
  session.disarm()
  drawn = 0
  process.stderr.write(`faultline: ${cmd.join(' ')} exited with ${status}\n${formatStats(session.handle.stats())}\n`)
  return status
}
