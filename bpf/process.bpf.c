// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process tracking: keeps fl_targets equal to the armed process tree.
 *   fork -> a child of a tracked process is tracked too (its FAULT flag follows the comm filter)
 *   exec -> the comm filter is evaluated again; with scope 'system' a matching exec joins
 *   exit -> the entry goes when the last thread of the group exits (no stale pids, no reuse)
 * Attached only while armed.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "include/vmlinux_min.h"
#include "include/maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int comm_allowed(const struct fl_state *st, const char comm[FL_COMM_LEN])
{
	if (!(st->flags & FL_STATE_COMM_FILTER))
		return 1;
	return bpf_map_lookup_elem(&fl_comms, comm) != 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fl_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid)
		return 0; /* a new thread: its process is already tracked (or not) */
	struct fl_target *p = bpf_map_lookup_elem(&fl_targets, &ptgid);
	if (!p || !(p->flags & FL_TARGET_TRACK))
		return 0;
	struct fl_state *st = fl_get_state();
	if (!st)
		return 0;
	char comm[FL_COMM_LEN] = {};
	BPF_CORE_READ_STR_INTO(&comm, child, comm);
	struct fl_target t = {
		.flags = FL_TARGET_TRACK | (comm_allowed(st, comm) ? FL_TARGET_FAULT : 0),
		.exec_ns = p->exec_ns,
	};
	bpf_map_update_elem(&fl_targets, &ctgid, &t, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fl_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct fl_state *st = fl_get_state();
	if (!st)
		return 0;
	char comm[FL_COMM_LEN] = {};
	BPF_CORE_READ_STR_INTO(&comm, p, comm);
	struct fl_target *t = bpf_map_lookup_elem(&fl_targets, &tgid);
	if (!t) {
		if ((st->flags & FL_STATE_SYSTEM) && comm_allowed(st, comm)) {
			struct fl_target nt = { .flags = FL_TARGET_TRACK | FL_TARGET_FAULT,
						.exec_ns = bpf_ktime_get_ns() };
			bpf_map_update_elem(&fl_targets, &tgid, &nt, BPF_ANY);
		}
		return 0;
	}
	if ((st->flags & FL_STATE_EXCLUDE_ROOT) && tgid == st->root_tgid)
		return 0;
	__u32 flags = FL_TARGET_TRACK | (comm_allowed(st, comm) ? FL_TARGET_FAULT : 0);
	struct fl_target nt = { .flags = flags, .exec_ns = bpf_ktime_get_ns() };
	bpf_map_update_elem(&fl_targets, &tgid, &nt, BPF_EXIST);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(fl_exit, struct task_struct *p)
{
	/* sched_process_exit fires for every thread, after the group's live count dropped. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	__u32 tgid = BPF_CORE_READ(p, tgid);
	bpf_map_delete_elem(&fl_targets, &tgid);
	return 0;
}
