#!/usr/bin/env node
/** The `faultline` command: one entry per subcommand, each parsing its own flags (cli/args.ts). */
import { ConfigError } from '../config/index.js'
import { FaultlineUnsupportedError } from '../engine/errors.js'
import { parseFlags, UsageError } from './args.js'
import { doctorCommand } from './doctor.js'
import { runCommand, RUN_USAGE } from './run.js'
import { validateCommand, VALIDATE_USAGE } from './validate.js'
import { cleanupCommand, CLEANUP_USAGE } from './cleanup.js'
import { exploreCommand, EXPLORE_USAGE } from './explore.js'
import { configJsonSchema } from '../config/json-schema.js'

interface Command {
  usage: string
  run(args: string[]): number | Promise<number>
}

const DOCTOR_USAGE = 'doctor [--json]                         what this kernel allows; exit 1 if faultline cannot run'
const SCHEMA_USAGE = 'schema                                  print the JSON Schema of config files'

const COMMANDS: Record<string, Command> = {
  doctor: {
    usage: DOCTOR_USAGE,
    run(args) {
      const { values } = parseFlags(args, { json: { type: 'boolean' } }, DOCTOR_USAGE)
      if (values.help) return help(DOCTOR_USAGE)
      return doctorCommand(values.json ? ['--json'] : [])
    },
  },
  validate: { usage: VALIDATE_USAGE, run: validateCommand },
  run: { usage: RUN_USAGE, run: runCommand },
  explore: { usage: EXPLORE_USAGE, run: exploreCommand },
  cleanup: { usage: CLEANUP_USAGE, run: cleanupCommand },
  schema: {
    usage: SCHEMA_USAGE,
    run(args) {
      const { values, positionals } = parseFlags(args, {}, SCHEMA_USAGE)
      if (values.help) return help(SCHEMA_USAGE)
      if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, SCHEMA_USAGE)
      console.log(JSON.stringify(configJsonSchema(), null, 2))
      return 0
    },
  },
}

const USAGE = `usage: faultline <command> [options]\n${Object.values(COMMANDS).map((c) => `  ${c.usage}`).join('\n')}`

function help(usage: string): number {
  console.log(`usage: faultline ${usage}`)
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  if (cmd === '-h' || cmd === '--help') {
    console.log(USAGE)
    return 0
  }
  const command = cmd === undefined ? undefined : Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined
  if (!command) {
    console.error(`${cmd === undefined ? '' : `faultline: unknown command ${JSON.stringify(cmd)}\n`}${USAGE}`)
    return 2
  }
  try {
    return await command.run(rest)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    console.error(`faultline ${cmd}: ${err.message}\nusage: faultline ${err.usage}`)
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
