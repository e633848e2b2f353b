/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Syscall-level evaluation shared by the entry mechanisms (fmod_ret / kprobe on the syscall
 * entry) and the LSM hooks: the syscall number and arguments come from the user registers
 * saved at entry, the path (for FL_MATCH_PATH) from the path argument as the program passed it.
 * Hooks on a struct file pass a resolved path instead (bpf_d_path, where the kernel allows it).
 */
#ifndef FAULTLINE_SYSCALL_H
#define FAULTLINE_SYSCALL_H

#include "vmlinux_min.h"
#include "rules.h"
#include <bpf/bpf_core_read.h>

/* Argument i (0..5) of the syscall being made, from the registers saved at its entry. */
static __always_inline unsigned long fl_arg(struct pt_regs___fl *regs, __u32 i)
{
#if defined(__TARGET_ARCH_arm64)
	switch (i) {
	case 0: return BPF_CORE_READ(regs, orig_x0);
	case 1: return BPF_CORE_READ(regs, regs[1]);
	case 2: return BPF_CORE_READ(regs, regs[2]);
	case 3: return BPF_CORE_READ(regs, regs[3]);
	case 4: return BPF_CORE_READ(regs, regs[4]);
	default: return BPF_CORE_READ(regs, regs[5]);
	}
#else
	switch (i) {
	case 0: return BPF_CORE_READ(regs, di);
	case 1: return BPF_CORE_READ(regs, si);
	case 2: return BPF_CORE_READ(regs, dx);
	case 3: return BPF_CORE_READ(regs, r10);
	case 4: return BPF_CORE_READ(regs, r8);
	default: return BPF_CORE_READ(regs, r9);
	}
#endif
}

/* The number of the syscall being made (the architecture's own table: arm64 has no open). */
static __always_inline __u32 fl_sysno(struct pt_regs___fl *regs)
{
#if defined(__TARGET_ARCH_arm64)
	return (__u32)BPF_CORE_READ(regs, syscallno);
#else
	return (__u32)BPF_CORE_READ(regs, orig_ax);
#endif
}

/* The file behind fd `fd` of the current process (NULL if none); read, not referenced. */
static __always_inline struct file *fl_fd_file(unsigned long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The inode number behind fd `fd` of the current process (0 if none). */
static __always_inline unsigned long fl_fd_ino(unsigned long fd)
{
	struct file *f = fl_fd_file(fd);
	if (!f)
		return 0;
	return BPF_CORE_READ(f, f_inode, i_ino);
}

/* Safeguard: the test runner's IPC channel (a socket of the arming process) is never failed. */
static __always_inline int fl_is_runner_channel(struct fl_sysinfo *info, struct pt_regs___fl *regs, struct file *file)
{
	struct fl_state *st = fl_get_state();
	if (!st || !st->exempt_ino || (bpf_get_current_pid_tgid() >> 32) != st->root_tgid)
		return 0;
	unsigned long ino = 0;
	if (file)
		ino = BPF_CORE_READ(file, f_inode, i_ino);
	else if (info && info->fd_arg != FL_ARG_NONE)
		ino = fl_fd_ino(fl_arg(regs, info->fd_arg));
	return ino && ino == st->exempt_ino;
}

/* Fills call->op (and the path / flags when a rule needs them) from the entry registers.
 * `have_path`: the hook already put a resolved path in the scratch buffer; `file`: the file
 * the hook was given, if any. */
static __always_inline void fl_sys_call(struct fl_call *call, struct pt_regs___fl *regs, int have_path, struct file *file)
{
	__u32 nr = fl_sysno(regs);
	call->op = FL_OP_SYS_BASE + nr;
	struct fl_sysinfo *info = bpf_map_lookup_elem(&fl_sysinfo, &nr);
	if (fl_is_runner_channel(info, regs, file)) {
		call->op = FL_OP_NONE; /* matches no rule */
		return;
	}
	if (!info)
		return;
	if (info->flags_arg != FL_ARG_NONE)
		call->open_flags = (__u32)fl_arg(regs, info->flags_arg);
	call->open_flags |= info->implied_flags;
	if (have_path) {
		call->has_path = 1;
		return;
	}
	struct fl_state *st = fl_get_state();
	if (!st || !(st->flags & FL_STATE_NEED_PATH) || info->path_arg == FL_ARG_NONE)
		return;
	__u32 zero = 0;
	struct fl_scratch *s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		return;
	const char *user = (const char *)fl_arg(regs, info->path_arg);
	call->has_path = bpf_probe_read_user_str(s->path, sizeof(s->path), user) > 0;
}

#endif
