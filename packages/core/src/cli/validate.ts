/**
 * `faultline validate [--kernel] [--run] <config.yaml>...`: every check that needs no kernel, each
 * field error as `file:line:column: path: message`. With --kernel it also plans against the
 * running kernel (the mechanism each rule would get) and checks what needs the machine
 * (interfaces exist, host names resolve), attaching nothing. --run reads the files as
 * `faultline run` does (the default scope 'tree' means the command's processes, not the CLI): a
 * delay rule that withFailureConfig refuses for stopping the test itself is fine there.
 */
import dns from 'node:dns/promises'
import { ConfigError, loadConfigSync } from '../config/index.js'
import type { FailureConfig } from '../config/types.js'
import { FaultlineUnsupportedError } from '../engine/errors.js'
import { plan } from '../engine/session.js'
import { parseFlags } from './args.js'
import { netDevice } from '../kernel/netdev.js'
import { cliTarget } from './run.js'

export const VALIDATE_USAGE =
  'validate [--kernel] [--run] <config.yaml>...\n' +
  "                                          check configs (faultline's or Minderbinder's YAML); --kernel: plan them\n" +
  '                                          here too; --run: as `faultline run` reads them (scope tree = the command)'

export async function validateCommand(args: string[]): Promise<number> {
  const { values, positionals: files } = parseFlags(args, { kernel: { type: 'boolean' }, run: { type: 'boolean' } }, VALIDATE_USAGE)
  if (values.help) return console.log(`usage: faultline ${VALIDATE_USAGE}`), 0
  if (files.length === 0) {
    console.error(`faultline validate: no config file given\nusage: faultline ${VALIDATE_USAGE}`)
    return 2
  }
  let status = 0
  for (const f of files) {
    let cfg: FailureConfig
    try {
      cfg = loadConfigSync(f, values.run ? cliTarget : undefined)
    } catch (err) {
      status = 1
      if (!(err instanceof ConfigError)) console.error(`${f}: ${(err as Error).message}`)
      else for (const i of err.issues) console.error(`${f}${i.line ? `:${i.line}:${i.column}` : ''}: ${i.path ? `${i.path}: ` : ''}${i.message}`)
      continue
    }
    console.log(`${f}: ok (${cfg.syscalls.length} syscall rule(s), ${cfg.network.length} network rule(s))`)
    for (const w of cfg.warnings) console.log(`  warning: ${w}`)
    if (values.kernel && !(await planHere(f, cfg))) status = 1
  }
  return status
}

/** Prints the mechanism of each rule and what the machine lacks; false when it cannot arm here. */
async function planHere(file: string, cfg: FailureConfig): Promise<boolean> {
  const problems: string[] = []
  try {
    for (const r of plan(cfg)) console.log(`  ${r.path} (${r.name}): ${r.acts} via ${r.mechanism}`)
  } catch (err) {
    if (!(err instanceof FaultlineUnsupportedError)) throw err
    if (err.rules.length) problems.push(...err.rules.map((r) => `${r.path}${r.name ? ` (${r.name})` : ''}: ${r.reason}`))
    else problems.push(err.message)
  }
  for (const r of cfg.network) {
    for (const name of r.interface ?? []) {
      if (name !== '*' && !netDevice(name)) problems.push(`${r.path}.interface: no interface ${name} on this machine`)
    }
    for (const h of r.hostnames) {
      try {
        await dns.lookup(h, { all: true })
      } catch (err) {
        problems.push(`${r.path}.hosts: ${JSON.stringify(h)} does not resolve here (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
      }
    }
  }
  for (const p of problems) console.error(`${file}: cannot arm here: ${p}`)
  if (!problems.length) console.log(`${file}: can be armed on this kernel (nothing was attached)`)
  return problems.length === 0
}
