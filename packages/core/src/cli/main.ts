#!/usr/bin/env node
/** The `faultline` command: doctor, validate, run. */
import { ConfigError, loadConfigSync } from '../config/index.js'
import { FaultlineUnsupportedError } from '../engine/errors.js'
import { doctorCommand } from './doctor.js'
import { runCommand } from './run.js'

const USAGE = `usage: faultline <command>
  doctor [--json]                         what this kernel allows; exit 1 if faultline cannot run
  validate <config.yaml>...               check configs (faultline's or Minderbinder's YAML)
  run -c <config.yaml> -- <cmd> [args]    run a command under a config, with live counters`

function validateCommand(files: string[]): number {
  if (files.length === 0) {
    console.error('usage: faultline validate <config.yaml>...')
    return 2
  }
  let status = 0
  for (const f of files) {
    try {
      const cfg = loadConfigSync(f)
      console.log(`${f}: ok (${cfg.syscalls.length} syscall rule(s), ${cfg.network.length} network rule(s))`)
      for (const w of cfg.warnings) console.log(`  warning: ${w}`)
    } catch (err) {
      status = 1
      console.error(err instanceof ConfigError ? err.message : `${f}: ${(err as Error).message}`)
    }
  }
  return status
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  switch (cmd) {
    case 'doctor':
      return doctorCommand(rest)
    case 'validate':
      return validateCommand(rest)
    case 'run':
      return runCommand(rest)
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE)
      return cmd ? 0 : 2
    default:
      console.error(`faultline: unknown command ${JSON.stringify(cmd)}\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof FaultlineUnsupportedError) console.error(err.message)
    else console.error(err)
    process.exit(1)
  },
)
