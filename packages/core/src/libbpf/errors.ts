/** Errors raised by the libbpf binding. Each says what was being done and libbpf's reason. */
import os from 'node:os'

const errnoNames = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, n]) => [n, name]),
)

export function errnoName(errno: number): string {
  if (errno === 524) return 'ENOTSUPP' // kernel-internal, leaks out of bpf()
  return errnoNames.get(errno) ?? `errno ${errno}`
}

/** libbpf.so.1 is missing or too old. The message names the package to install. */
export class LibbpfMissingError extends Error {
  override readonly name = 'LibbpfMissingError'
}

/** A libbpf or bpf() call failed. `errno` is positive (EPERM = 1). */
export class LibbpfError extends Error {
  override readonly name = 'LibbpfError'
  constructor(
    /** What was being done, e.g. "attach cgroup/connect4 program fl_connect4". */
    readonly op: string,
    readonly errno: number,
    /** The last lines libbpf logged during the call (verifier output included), if any. */
    readonly log: string[] = [],
  ) {
    super(`${op}: ${errnoName(errno)} (${describe(errno)})${log.length ? `\n${log.join('\n')}` : ''}`)
  }
  get code(): string {
    return errnoName(this.errno)
  }
}

function describe(errno: number): string {
  // Node has no strerror; these are the ones a user of faultline actually meets.
  const known: Record<number, string> = {
    1: 'operation not permitted: missing CAP_BPF/CAP_SYS_ADMIN, or this program type is denied here',
    2: 'no such file or directory',
    3: 'no such process',
    7: 'argument list too long',
    9: 'bad file descriptor',
    13: 'permission denied (the verifier rejected the program)',
    16: 'device or resource busy',
    17: 'already exists',
    22: 'invalid argument',
    28: 'no space left (map full)',
    95: 'operation not supported by this kernel',
    524: 'not supported by this kernel (ENOTSUPP)',
  }
  return known[errno] ?? 'see errno'
}
