/**
 * The LSM hook each syscall passes, for the lsm and security-fmod-ret mechanisms (the programs
 * are in bpf/include/lsm_hooks.h). A hook fires for every caller of the hook; the BPF side
 * checks the syscall number too, so e.g. execve's file_open never fires an openat rule.
 * `resolved`: the mechanisms whose program on this hook may call bpf_d_path, so match.path sees
 * the resolved absolute path and match.fd works: both on file_open (lsm.s/ is sleepable), only
 * fmod_ret on security_file_permission (lsm/file_permission cannot sleep).
 */
export interface LsmHook {
  hook: string
  resolved: ('lsm' | 'security-fmod-ret')[]
}

const OPEN: LsmHook['resolved'] = ['lsm', 'security-fmod-ret']
const PERMISSION: LsmHook['resolved'] = ['security-fmod-ret']
const h = (hook: string, resolved: LsmHook['resolved'] = []): LsmHook => ({ hook, resolved })

export const LSM_HOOKS: Record<string, LsmHook> = {
  open: h('file_open', OPEN), openat: h('file_open', OPEN), openat2: h('file_open', OPEN), creat: h('file_open', OPEN),
  read: h('file_permission', PERMISSION), readv: h('file_permission', PERMISSION), pread64: h('file_permission', PERMISSION),
  preadv: h('file_permission', PERMISSION), preadv2: h('file_permission', PERMISSION),
  write: h('file_permission', PERMISSION), writev: h('file_permission', PERMISSION), pwrite64: h('file_permission', PERMISSION),
  pwritev: h('file_permission', PERMISSION), pwritev2: h('file_permission', PERMISSION),
  mmap: h('mmap_file'), ioctl: h('file_ioctl'),
  unlink: h('inode_unlink'), unlinkat: h('inode_unlink'), rmdir: h('inode_rmdir'),
  mkdir: h('inode_mkdir'), mkdirat: h('inode_mkdir'),
  rename: h('inode_rename'), renameat: h('inode_rename'), renameat2: h('inode_rename'),
  execve: h('bprm_check_security'), execveat: h('bprm_check_security'),
  kill: h('task_kill'), tkill: h('task_kill'), tgkill: h('task_kill'),
}

/** The BPF program name of a hook, in lsm.bpf.o and security.bpf.o. */
export function lsmProgram(hook: string): string {
  return `fl_lsm_${hook}`
}
