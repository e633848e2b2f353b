/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The LSM hooks faultline fails syscalls through, written once and compiled twice:
 * lsm.bpf.c (lsm/ programs, where the BPF LSM is active) and security.bpf.c (fmod_ret on
 * security_*, where BPF trampolines exist). Each hook evaluates the rules of the syscall being
 * made (from the task's saved registers), so file_open run by execve never fires an openat rule.
 * The syscall -> hook table is in packages/core/src/kernel/lsm-hooks.ts.
 *
 * The including file defines FL_HOOK(hook, security_fn) (the section of a program),
 * FL_PATH_HOOK (the same for file_open, which resolves paths: lsm.s/ or fmod_ret/), FL_PREV,
 * and FL_D_PATH_OPEN / FL_D_PATH_PERMISSION: whether those two hooks may call bpf_d_path
 * (fmod_ret on security_file_open/permission may; of the lsm/ hooks only the sleepable
 * lsm.s/file_open may).
 */
#ifndef FAULTLINE_LSM_HOOKS_H
#define FAULTLINE_LSM_HOOKS_H

#include "syscall.h"

/* LSM programs must return a value the verifier can prove is in [-4095, 0]. */
static __always_inline int fl_lsm_clamp(long ret)
{
	if (ret < -4095)
		return -4095;
	if (ret > 0)
		return 0;
	return (int)ret;
}

/*
 * f_mode bit 29: FMODE_NOACCOUNT (FMODE_FAKE_PATH in 6.6-6.7), set only on files the kernel
 * opens for itself, such as overlayfs's real file (open_with_fake_path, and the backing files
 * of 6.8+, which FUSE passthrough and cachefiles use too); never on a file a process opened
 * with open/openat. Such a file passes file_open and file_permission again inside the user's
 * own call, after the user's file did: counted, one open or write on an overlay mount (a
 * container's root) would be two eligible calls for when.nth and explore.
 */
#define FL_FMODE_STACKED_FILE 0x20000000u

/* `d_path`: this program may resolve the file's path (only where the kernel allows bpf_d_path). */
static __always_inline int fl_lsm_eval(struct file *file, int d_path, int prev)
{
	if (prev)
		return prev; /* an earlier program already refused */
	if (file && (BPF_CORE_READ(file, f_mode) & FL_FMODE_STACKED_FILE))
		return 0; /* the user's call was judged on its own file already */
	struct fl_target *t = fl_current_fault_target();
	if (!t)
		return 0;
	struct fl_call call = {};
	int have_path = 0;
	struct fl_state *st = fl_get_state();
	if (d_path && file && st && (st->flags & FL_STATE_NEED_PATH)) {
		__u32 zero = 0;
		struct fl_scratch *s = bpf_map_lookup_elem(&fl_scratch, &zero);
		if (s)
			have_path = bpf_d_path(&file->f_path, s->path, sizeof(s->path)) > 0;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	fl_sys_call(&call, (struct pt_regs___fl *)bpf_task_pt_regs(task), have_path, file);
	return fl_lsm_clamp(fl_eval(&call, t));
}

/* Programs take the raw context: ctx[0] is the first argument of the hook. FL_PREV(n) is the
 * verdict of earlier BPF LSM programs (lsm/ only: ctx[n] after the n arguments; fmod_ret
 * programs on security_* see that function's own argument list, which differs for some hooks,
 * so they do not read it). */
#define FL_FILE(ctx) ((struct file *)(ctx)[0])

FL_PATH_HOOK(file_open, security_file_open)
int fl_lsm_file_open(unsigned long long *ctx) { return fl_lsm_eval(FL_FILE(ctx), FL_D_PATH_OPEN, FL_PREV(ctx, 1)); }

FL_HOOK(file_permission, security_file_permission)
int fl_lsm_file_permission(unsigned long long *ctx) { return fl_lsm_eval(FL_FILE(ctx), FL_D_PATH_PERMISSION, FL_PREV(ctx, 2)); }

FL_HOOK(mmap_file, security_mmap_file)
int fl_lsm_mmap_file(unsigned long long *ctx) { return fl_lsm_eval(FL_FILE(ctx), 0, FL_PREV(ctx, 4)); }

FL_HOOK(file_ioctl, security_file_ioctl)
int fl_lsm_file_ioctl(unsigned long long *ctx) { return fl_lsm_eval(FL_FILE(ctx), 0, FL_PREV(ctx, 3)); }

FL_HOOK(inode_unlink, security_inode_unlink)
int fl_lsm_inode_unlink(unsigned long long *ctx) { return fl_lsm_eval(0, 0, FL_PREV(ctx, 2)); }

FL_HOOK(inode_rmdir, security_inode_rmdir)
int fl_lsm_inode_rmdir(unsigned long long *ctx) { return fl_lsm_eval(0, 0, FL_PREV(ctx, 2)); }

FL_HOOK(inode_mkdir, security_inode_mkdir)
int fl_lsm_inode_mkdir(unsigned long long *ctx) { return fl_lsm_eval(0, 0, FL_PREV(ctx, 3)); }

FL_HOOK(inode_rename, security_inode_rename)
int fl_lsm_inode_rename(unsigned long long *ctx) { return fl_lsm_eval(0, 0, FL_PREV(ctx, 4)); }

FL_HOOK(bprm_check_security, security_bprm_check)
int fl_lsm_bprm_check_security(unsigned long long *ctx) { return fl_lsm_eval(0, 0, FL_PREV(ctx, 1)); }

FL_HOOK(task_kill, security_task_kill)
int fl_lsm_task_kill(unsigned long long *ctx) { return fl_lsm_eval(0, 0, FL_PREV(ctx, 4)); }

#endif
