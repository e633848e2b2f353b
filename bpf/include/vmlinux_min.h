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

struct task_struct {
	int pid;  /* thread id */
	int tgid; /* process id */
	char comm[16];
	struct signal_struct *signal;
	struct task_struct *real_parent; /* the parent, or the reaper once the parent exited */
} __attribute__((preserve_access_index));

/* Context of an iter/task program: called once per task, then once with task == NULL. */
struct bpf_iter_meta;
struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

struct linux_binprm;

#endif
