/** Syscall names of the architectures faultline supports (x86-64, arm64), and the socket calls. */
import os from 'node:os'
import { SYSCALLS_ARM64, SYSCALLS_X86_64 } from './tables.generated.js'

export type Arch = 'x86_64' | 'arm64'

export function currentArch(): Arch {
  return os.arch() === 'arm64' ? 'arm64' : 'x86_64'
}

export function syscallTable(arch: Arch = currentArch()): Readonly<Record<string, number>> {
  return arch === 'arm64' ? SYSCALLS_ARM64 : SYSCALLS_X86_64
}

/** Is `name` a syscall on some supported architecture, and on the given one? */
export function syscallExists(name: string, arch: Arch = currentArch()): { anywhere: boolean; here: boolean } {
  const here = Object.hasOwn(syscallTable(arch), name)
  return { here, anywhere: here || Object.hasOwn(SYSCALLS_X86_64, name) || Object.hasOwn(SYSCALLS_ARM64, name) }
}

export function allSyscallNames(): string[] {
  return [...new Set([...Object.keys(SYSCALLS_X86_64), ...Object.keys(SYSCALLS_ARM64)])]
}

/** Socket calls served by cgroup hooks; match.port / match.address apply to the first four. */
export const SOCKET_SYSCALLS = ['connect', 'bind', 'sendmsg', 'sendto', 'socket', 'getsockopt', 'setsockopt'] as const
export const ADDRESS_SYSCALLS = ['connect', 'bind', 'sendmsg', 'sendto'] as const

/** Calls a test runner needs in its own process: an unfiltered rule on them earns a warning. */
export const RUNNER_CRITICAL_SYSCALLS = ['write', 'writev', 'read', 'readv', 'sendmsg', 'recvmsg', 'pwrite64', 'pread64', 'epoll_wait', 'close']

/** Calls with a path argument (match.path applies). */
export const PATH_SYSCALLS = [
  'open', 'openat', 'openat2', 'creat', 'stat', 'lstat', 'newfstatat', 'statx', 'access', 'faccessat', 'faccessat2',
  'unlink', 'unlinkat', 'mkdir', 'mkdirat', 'rmdir', 'rename', 'renameat', 'renameat2', 'execve', 'execveat',
  'chdir', 'truncate', 'chmod', 'fchmodat', 'chown', 'fchownat', 'lchown', 'readlink', 'readlinkat', 'link', 'linkat',
  'symlink', 'symlinkat', 'mknod', 'mknodat', 'utimensat',
]

/** Calls whose first argument is an fd (match.fd applies). */
export const FD_SYSCALLS = [
  'read', 'write', 'pread64', 'pwrite64', 'readv', 'writev', 'preadv', 'pwritev', 'preadv2', 'pwritev2', 'fsync',
  'fdatasync', 'ftruncate', 'fstat', 'fchmod', 'fchown', 'lseek', 'ioctl', 'mmap', 'fallocate', 'getdents64', 'sendfile',
]
