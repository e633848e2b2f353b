/** ConfigError: every problem of a config at once, each line starting with the field's path. */

export interface ConfigIssue {
  /** e.g. 'syscalls[0].when.probability' ('' for the whole config). */
  path: string
  message: string
  /** Where the field is in a YAML source, 1-based (set by parseConfig). */
  line?: number
  column?: number
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(
    readonly issues: ConfigIssue[],
    /** Where the config came from (a file path), for the header line. */
    readonly source?: string,
  ) {
    super(
      `invalid faultline config${source ? ` (${source})` : ''}: ${issues.length} problem(s), nothing was armed\n` +
        issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n'),
    )
  }
}
