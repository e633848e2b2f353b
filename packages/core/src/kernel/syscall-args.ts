/**
 * Where a syscall's path, fd and open-flags arguments are (0-based), for the BPF side's
 * fl_sysinfo map: entry mechanisms read the path argument as the program passed it, and the
 * fd argument to spare the test runner's IPC socket.
 */
import { OPEN_FLAG_BITS } from './open-flags.js'

export interface SyscallArgs {
  path?: number
  fd?: number
  flags?: number
  /** Flags the call implies: creat() is open(O_CREAT|O_WRONLY|O_TRUNC). */
  implied?: number
}

const P0 = { path: 0 }
const P1 = { path: 1 }
const FD0 = { fd: 0 }

export const SYSCALL_ARGS: Record<string, SyscallArgs> = {
  open: { path: 0, flags: 1 },
  openat: { path: 1, flags: 2 },
  openat2: { path: 1 },
  creat: { path: 0, implied: OPEN_FLAG_BITS.O_CREAT | OPEN_FLAG_BITS.O_WRONLY | OPEN_FLAG_BITS.O_TRUNC },
  stat: P0, lstat: P0, newfstatat: P1, statx: P1, access: P0, faccessat: P1, faccessat2: P1,
  unlink: P0, unlinkat: P1, mkdir: P0, mkdirat: P1, rmdir: P0, rename: P0, renameat: P1, renameat2: P1,
  execve: P0, execveat: P1, chdir: P0, truncate: P0, chmod: P0, fchmodat: P1, chown: P0, fchownat: P1,
  lchown: P0, readlink: P0, readlinkat: P1, link: P0, linkat: P1, symlink: { path: 1 }, symlinkat: { path: 2 },
  mknod: P0, mknodat: P1, utimensat: P1,
  read: FD0, write: FD0, pread64: FD0, pwrite64: FD0, readv: FD0, writev: FD0, preadv: FD0, pwritev: FD0,
  preadv2: FD0, pwritev2: FD0, fsync: FD0, fdatasync: FD0, ftruncate: FD0, fstat: FD0, fchmod: FD0, fchown: FD0,
  lseek: FD0, ioctl: FD0, fallocate: FD0, getdents64: FD0, close: FD0, sendmsg: FD0, sendto: FD0, recvmsg: FD0,
  recvfrom: FD0, sendfile: { fd: 0 }, mmap: { fd: 4 },
}
