/**
 * Flags of every subcommand, through node:util parseArgs. A usage error (an unknown flag, a
 * missing value, a missing argument) prints the subcommand's usage and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

export class UsageError extends Error {
  override readonly name = 'UsageError'
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message)
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>

/** Parses `args` against `options`; throws UsageError (exit 2) on anything parseArgs refuses. */
export function parseFlags(args: string[], options: Options, usage: string): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args, options: { help: { type: 'boolean', short: 'h' }, ...options }, allowPositionals: true, strict: true }) as { values: Record<string, string | boolean | undefined>; positionals: string[] }
  } catch (err) {
    throw new UsageError((err as Error).message, usage)
  }
}
