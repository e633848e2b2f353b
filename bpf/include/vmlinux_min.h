/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few kernel structs faultline reads, declared with preserve_access_index so libbpf
 * relocates every field access against the running kernel's BTF (CO-RE). A full vmlinux.h
 * would pin the build to one kernel's headers and weigh 3 MB; these fields are stable.
 */
#ifndef FAULTLINE_VMLINUX_MIN_H
#define FAULTLINE_VMLINUX_MIN_H

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live; /* threads still alive in the group; 0 once the last one exits */
} __attribute__((preserve_access_index));

/* Pid numbering per namespace level: numbers[0] is the global pid, numbers[level] the pid in
 * the task's own namespace. */
struct ns_common {
	unsigned int inum; /* the nsfs inode: what stat("/proc/self/ns/pid") reports */
} __attribute__((preserve_access_index));
struct pid_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));
struct upid {
	int nr;
	struct pid_namespace *ns;
} __attribute__((preserve_access_index));
struct pid {
	unsigned int level;
	struct upid numbers[1];
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;  /* thread id */
	int tgid; /* process id */
	char comm[16];
	struct signal_struct *signal;
	struct task_struct *real_parent; /* the parent, or the reaper once the parent exited */
	struct files_struct *files;
	struct pid *thread_pid;
} __attribute__((preserve_access_index));

/* Context of an iter/task program: called once per task, then once with task == NULL. */
struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num; /* how many objects the program was called for before this one */
} __attribute__((preserve_access_index));
struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

struct linux_binprm;
struct files_struct;

#endif

/* The user registers saved at syscall entry (CO-RE relocates the offsets), per architecture:
 * the Makefile builds every object once with -D__TARGET_ARCH_x86 and once with
 * -D__TARGET_ARCH_arm64. The ___fl suffix keeps it apart from the UAPI struct pt_regs kprobe
 * programs see. Read through fl_arg() / fl_sysno() (syscall.h), not directly. */
#if defined(__TARGET_ARCH_x86)
struct pt_regs___fl {
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax; /* the syscall number */
	unsigned long sp;      /* the user stack pointer (call sites: sites.bpf.c) */
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
/* arm64: x0..x5 carry the arguments, but x0 is overwritten with the return value, so entry
 * keeps the first argument in orig_x0 (the kernel's own syscall_get_arguments reads it there).
 * regs[] sits in an anonymous union with struct user_pt_regs: CO-RE finds it through it. */
struct pt_regs___fl {
	unsigned long regs[31];
	unsigned long orig_x0;
	int syscallno; /* the syscall number (s32; -1 when not in a syscall) */
	unsigned long sp; /* the user stack pointer (call sites: sites.bpf.c) */
} __attribute__((preserve_access_index));
/* The kprobe context on arm64 (UAPI, a stable layout): bpf_tracing.h's PT_REGS_PARM* read it. */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
#else
#error "faultline builds its BPF objects for x86 and arm64: define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64"
#endif

struct vfsmount;
struct dentry;
struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));
struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));
struct file {
	struct path f_path;
	struct inode *f_inode;
	unsigned int f_mode; /* fmode_t */
} __attribute__((preserve_access_index));
struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));
struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));
