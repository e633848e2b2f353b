/** open(2) flag bits (asm-generic; x86-64 and arm64 agree except O_DIRECT/O_DIRECTORY/O_NOFOLLOW/O_LARGEFILE on arm64). */
import os from 'node:os'

const arm64 = os.arch() === 'arm64'

export const OPEN_FLAG_BITS = {
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DSYNC: 0o10000,
  O_DIRECT: arm64 ? 0o200000 : 0o40000,
  O_DIRECTORY: arm64 ? 0o40000 : 0o200000,
  O_NOFOLLOW: arm64 ? 0o100000 : 0o400000,
  O_NOATIME: 0o1000000,
  O_CLOEXEC: 0o2000000,
  O_SYNC: 0o4010000,
  O_PATH: 0o10000000,
  O_TMPFILE: 0o20200000,
} as const satisfies Record<string, number>
